package main

// leadflow import FILE: contacts from a CSV or NDJSON file, through the
// HTTP API (POST /v1/contacts/import) so that every row passes the checks
// every ingestion route applies. The file is sent in batches of up to 1000
// rows, each batch as the file's own bytes (after the CSV header) with the
// line it starts on, so rejected rows are reported by their line in the
// file. After each acknowledged batch a small state file next to the input
// records how far the import got: run the same command again after an
// interruption and it continues there. Event ids are derived from each
// row's content, so sending a row twice never doubles anything.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	importMaxRows  = 1000      // rows per request (the API's limit)
	importMaxBytes = 768 << 10 // bytes per request, under the API's 1 MiB body limit
)

// importRetries is how many times a batch is sent before the import stops
// (network errors, 429 and 5xx), importPause the first pause between tries.
var (
	importRetries = 6
	importPause   = 500 * time.Millisecond
)

type importOptions struct {
	api, key, mapping, types string
	format, rejects, state   string
	restart                  bool
	progress                 string
}

// importState is what the state file records after each acknowledged batch.
type importState struct {
	File       string    `json:"file"`
	Size       int64     `json:"size"`
	ModTime    time.Time `json:"mod_time"`
	Offset     int64     `json:"offset"` // bytes of the file acknowledged
	Line       int       `json:"line"`   // the line the next batch starts on
	Rows       int       `json:"rows"`
	Accepted   int       `json:"accepted"`
	Duplicates int       `json:"duplicates"`
	Rejected   int       `json:"rejected"`
}

type importResult struct {
	Rows       int `json:"rows"`
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

func runImport(args []string, stdout, stderr io.Writer) int {
	var o importOptions
	fs := newFlagSet("import [flags] FILE", `Import contacts from a CSV file (a header line, one contact per record) or an
NDJSON file (one JSON object per line) through the API, in batches of up to 1000
rows. Columns: email; id or contact_id; account or account_id; tags (separated
by ; or |); every other column is a field (a string unless --types says
otherwise). Rows that fail the API's checks are written with their line and the
reason to the rejects file; the others are imported. Contacts are scored and
enter flows as if created one by one. Interrupted? Run the same command again:
it resumes after the last acknowledged batch, and re-sending a row never
doubles it.`, stderr)
	fs.StringVar(&o.api, "api", env("LEADFLOW_API_URL", "http://127.0.0.1:8080"), "the API's base URL (env LEADFLOW_API_URL)")
	fs.StringVar(&o.key, "key", os.Getenv("LEADFLOW_ADMIN_KEY"), "the admin key (env LEADFLOW_ADMIN_KEY)")
	fs.StringVar(&o.mapping, "map", "", "column mapping, e.g. 'E-mail=email,Company=account_id,Plan=plan,Notes=-' (targets: email, contact_id, account_id, tags, - to skip, or a field name)")
	fs.StringVar(&o.types, "types", "", "column types for CSV, e.g. 'employees=number,vip=boolean' (default: every field a string)")
	fs.StringVar(&o.format, "format", "", "csv or ndjson (default: from the file name; .ndjson, .jsonl → ndjson, else csv)")
	fs.StringVar(&o.rejects, "rejects", "", "where rejected rows are written (default FILE.rejects.csv)")
	fs.StringVar(&o.state, "state", "", "the resume state file (default FILE.import-state)")
	fs.BoolVar(&o.restart, "restart", false, "ignore a saved state and import the whole file again")
	fs.StringVar(&o.progress, "progress", "auto", "auto (a bar on a terminal, log lines otherwise), bar, log or none")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "leadflow import: give exactly one FILE to import (see --help)")
		return 2
	}
	file := fs.Arg(0)
	if o.format == "" {
		switch strings.ToLower(filepath.Ext(file)) {
		case ".ndjson", ".jsonl":
			o.format = "ndjson"
		default:
			o.format = "csv"
		}
	}
	if o.format != "csv" && o.format != "ndjson" {
		fmt.Fprintf(stderr, "leadflow import: --format %q is not csv or ndjson\n", o.format)
		return 2
	}
	if o.rejects == "" {
		o.rejects = file + ".rejects.csv"
	}
	if o.state == "" {
		o.state = file + ".import-state"
	}
	o.progress = progressMode(o.progress, stderr)
	if err := importFile(file, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "leadflow import:", err)
		return 1
	}
	return 0
}

// batchReader cuts the file into batches of whole records.
type batchReader interface {
	// next returns the bytes of the next batch (whole records), the line
	// it starts on and how many records it holds; io.EOF at the end.
	next() ([]byte, int, int, error)
	offset() int64
}

func importFile(file string, o importOptions, stdout, stderr io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("error opening the file to import: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("error reading %s: %w", file, err)
	}
	st := importState{File: file, Size: fi.Size(), ModTime: fi.ModTime().UTC()}
	resumed := false
	if !o.restart {
		if saved, ok := loadImportState(o.state); ok {
			if saved.Size == st.Size && saved.ModTime.Equal(st.ModTime) {
				st, resumed = saved, true
				fmt.Fprintf(stderr, "resuming %s at line %d (%d rows done; --restart to start over)\n", file, st.Line, st.Rows)
			} else {
				fmt.Fprintf(stderr, "%s changed since the interrupted import recorded in %s; importing it from the start\n", file, o.state)
			}
		}
	}
	var header []byte
	var br batchReader
	if o.format == "csv" {
		cr, err := newCSVBatches(f, st.Offset, st.Line)
		if err != nil {
			return err
		}
		header, br = cr.header, cr
	} else {
		br, err = newNDJSONBatches(f, st.Offset, st.Line)
		if err != nil {
			return err
		}
	}
	rejFlags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resumed {
		rejFlags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	rf, err := os.OpenFile(o.rejects, rejFlags, 0o644)
	if err != nil {
		return fmt.Errorf("error opening the rejects file: %w", err)
	}
	defer rf.Close()
	rw := csv.NewWriter(rf)
	if !resumed {
		rw.Write([]string{"line", "reason"})
	}
	endpoint, err := importURL(o)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	prog := newProgress("import", "rows", o.progress, stderr, st.Size, st.Offset, st.Rows)
	start := time.Now()
	startRows := st.Rows
	for {
		body, line, _, err := br.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("error reading %s: %w", file, err)
		}
		res, err := sendImportBatch(client, endpoint, o, header, body, line, stderr)
		if err != nil {
			saveImportState(o.state, st)
			return fmt.Errorf("%w; nothing after line %d was imported: run the same command again to resume", err, line-1)
		}
		for _, rj := range res.Rejected {
			rw.Write([]string{strconv.Itoa(rj.Line), rj.Reason})
		}
		rw.Flush()
		if err := rw.Error(); err != nil {
			return fmt.Errorf("error writing the rejects file %s: %w", o.rejects, err)
		}
		st.Rows += res.Rows
		st.Accepted += res.Accepted
		st.Duplicates += res.Duplicates
		st.Rejected += len(res.Rejected)
		st.Offset = br.offset()
		st.Line = line + bytes.Count(body, []byte("\n"))
		if err := saveImportState(o.state, st); err != nil {
			return err
		}
		prog.update(st.Offset, st.Rows)
	}
	prog.done(st.Rows)
	os.Remove(o.state)
	elapsed := time.Since(start)
	rate := float64(st.Rows-startRows) / elapsed.Seconds()
	fmt.Fprintf(stdout, "imported %s: %d rows, %d new, %d already there, %d rejected in %s (%.0f rows/s)\n",
		file, st.Rows, st.Accepted, st.Duplicates, st.Rejected, elapsed.Round(time.Millisecond), rate)
	if st.Rejected > 0 {
		fmt.Fprintf(stdout, "rejected rows, with their line and the reason: %s\n", o.rejects)
	}
	return nil
}

func importURL(o importOptions) (string, error) {
	u, err := url.Parse(strings.TrimRight(o.api, "/") + "/v1/contacts/import")
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--api %q is not a URL such as http://127.0.0.1:8080", o.api)
	}
	q := url.Values{}
	if o.mapping != "" {
		q.Set("map", o.mapping)
	}
	if o.types != "" {
		q.Set("types", o.types)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// sendImportBatch posts one batch, retrying what may pass later (network
// errors, 429, 5xx) with a growing pause.
func sendImportBatch(client *http.Client, endpoint string, o importOptions, header, body []byte, line int, stderr io.Writer) (importResult, error) {
	var res importResult
	payload := append(append([]byte(nil), header...), body...)
	ct := "text/csv"
	if o.format == "ndjson" {
		ct = "application/x-ndjson"
	}
	u := endpoint + "&line=" + strconv.Itoa(line)
	if !strings.Contains(endpoint, "?") {
		u = endpoint + "?line=" + strconv.Itoa(line)
	}
	pause := importPause
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequest("POST", u, bytes.NewReader(payload))
		if err != nil {
			return res, fmt.Errorf("error building the request: %w", err)
		}
		req.Header.Set("Content-Type", ct)
		if o.key != "" {
			req.Header.Set("Authorization", "Bearer "+o.key)
		}
		resp, err := client.Do(req)
		var retry error
		if err != nil {
			retry = fmt.Errorf("error sending the rows from line %d: %w", line, err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				if err := json.Unmarshal(b, &res); err != nil {
					return res, fmt.Errorf("the API answered the rows from line %d with something other than an import result: %w", line, err)
				}
				return res, nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				retry = fmt.Errorf("the API answered the rows from line %d with %s: %s", line, resp.Status, strings.TrimSpace(string(b)))
			default:
				return res, fmt.Errorf("the API refused the rows from line %d: %s: %s", line, resp.Status, strings.TrimSpace(string(b)))
			}
		}
		if attempt == importRetries {
			return res, retry
		}
		fmt.Fprintf(stderr, "\n%v; retrying in %s\n", retry, pause)
		time.Sleep(pause)
		pause *= 2
	}
}

func loadImportState(path string) (importState, bool) {
	var st importState
	b, err := os.ReadFile(path)
	if err != nil {
		return st, false
	}
	return st, json.Unmarshal(b, &st) == nil && st.Offset > 0
}

// saveImportState writes the state atomically (a rename).
func saveImportState(path string, st importState) error {
	b, _ := json.Marshal(st)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("error saving the import state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("error saving the import state: %w", err)
	}
	return nil
}

// csvBatches reads whole CSV records and returns their bytes as in the file
// (a quoted field may span lines).
type csvBatches struct {
	f      *os.File
	r      *csv.Reader
	base   int64 // file offset the reader started at
	pos    int64 // file offset after the last record read
	line   int   // line of the file at pos
	header []byte
}

func newCSVBatches(f *os.File, offset int64, line int) (*csvBatches, error) {
	hr := csv.NewReader(bufio.NewReader(f))
	hr.FieldsPerRecord = -1
	if _, err := hr.Read(); err != nil {
		return nil, fmt.Errorf("error reading the CSV header of %s: %w", f.Name(), err)
	}
	hlen := hr.InputOffset()
	header := make([]byte, hlen)
	if _, err := f.ReadAt(header, 0); err != nil {
		return nil, fmt.Errorf("error reading the CSV header of %s: %w", f.Name(), err)
	}
	if !bytes.HasSuffix(header, []byte("\n")) {
		header = append(header, '\n')
	}
	if offset < hlen {
		offset, line = hlen, 1+bytes.Count(header[:hlen], []byte("\n"))
		if !bytes.HasSuffix(header[:hlen], []byte("\n")) {
			line++
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("error seeking in %s: %w", f.Name(), err)
	}
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	return &csvBatches{f: f, r: r, base: offset, pos: offset, line: line, header: header}, nil
}

func (c *csvBatches) offset() int64 { return c.pos }

func (c *csvBatches) next() ([]byte, int, int, error) {
	start, n := c.pos, 0
	for n < importMaxRows && c.pos-start < importMaxBytes {
		_, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return nil, 0, 0, err
		}
		// a record the reader cannot parse is sent as it is: the API
		// rejects it with its line and the reason
		c.pos = c.base + c.r.InputOffset()
		n++
	}
	if n == 0 {
		return nil, 0, 0, io.EOF
	}
	body := make([]byte, c.pos-start)
	if _, err := c.f.ReadAt(body, start); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, 0, err
	}
	line := c.line
	c.line += bytes.Count(body, []byte("\n"))
	return body, line, n, nil
}

// ndjsonBatches reads whole lines.
type ndjsonBatches struct {
	r    *bufio.Reader
	pos  int64
	line int
}

func newNDJSONBatches(f *os.File, offset int64, line int) (*ndjsonBatches, error) {
	if line == 0 {
		line = 1
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("error seeking in %s: %w", f.Name(), err)
	}
	return &ndjsonBatches{r: bufio.NewReaderSize(f, 1<<20), pos: offset, line: line}, nil
}

func (b *ndjsonBatches) offset() int64 { return b.pos }

func (b *ndjsonBatches) next() ([]byte, int, int, error) {
	var body []byte
	n := 0
	for n < importMaxRows && len(body) < importMaxBytes {
		l, err := b.r.ReadBytes('\n')
		body = append(body, l...)
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, 0, err
		}
	}
	if len(body) == 0 {
		return nil, 0, 0, io.EOF
	}
	b.pos += int64(len(body))
	line := b.line
	b.line += bytes.Count(body, []byte("\n"))
	return body, line, n, nil
}
