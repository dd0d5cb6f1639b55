package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/preview"
	"github.com/leadflow/leadflow/store"
)

// runPreview implements "leadflow preview FILE...".
func runPreview(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("preview [flags] FILE...", `Show what draft definitions (flow, segment and score_model files or folders)
would have done over the stored history, beside the published definitions, before
you publish them. The events of every contact with events applied in the window
are replayed through the drafts in the contact core: nothing is written to the
database and nothing is sent. Reports, per draft model: score distribution, bands,
contacts whose band would change, threshold crossings and the CRM tasks they would
have created per day, the rules that gave the most points; per flow: entries and
exits; per segment: members, entered and exited. The same as
POST /v1/definitions/preview, run against DATABASE_URL directly.`, stderr)
	dbURL := fs.String("database-url", env("DATABASE_URL", store.DefaultURL), "PostgreSQL URL (env DATABASE_URL)")
	since := fs.String("since", preview.DefaultSince, `the window: a duration back from now ("90d", "12w") or an RFC 3339 time`)
	sample := fs.Int("sample", 0, "replay a deterministic sample of this many contacts (0: all)")
	contacts := fs.String("contacts", "", "replay only these contacts (ids, comma-separated)")
	asJSON := fs.Bool("json", false, "print the report as JSON (as the API answers)")
	prog := fs.String("progress", "auto", "auto (a bar on a terminal, log lines otherwise), bar, log or none")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "leadflow preview: name the draft definition files or folders to preview (see --help)")
		return 2
	}
	now := time.Now()
	from, err := preview.ParseSince(*since, now)
	if err != nil {
		fmt.Fprintf(stderr, "leadflow preview: --since: %v\n", err)
		return 2
	}
	if *sample < 0 {
		fmt.Fprintln(stderr, "leadflow preview: --sample must be 0 or more")
		return 2
	}
	files, err := definitionFiles(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "leadflow preview: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := store.Open(ctx, *dbURL, false)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow preview:", err)
		return 1
	}
	defer s.Close()
	known, err := engine.KnownCatalog(ctx, s, nil)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow preview:", err)
		return 1
	}
	var srcs []flows.Source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "leadflow preview: %v\n", err)
			return 2
		}
		srcs = append(srcs, flows.Source{File: f, Data: data})
	}
	r := flows.CheckFiles(srcs, known)
	if len(r.Errors) > 0 {
		r.Errors.Sort()
		for _, e := range r.Errors {
			fmt.Fprintln(stderr, e.String())
		}
		fmt.Fprintln(stderr, "leadflow preview: the drafts are invalid; nothing was previewed")
		return 1
	}
	opt := preview.Options{Since: from, Until: now, Sample: *sample}
	if *contacts != "" {
		opt.Contacts = strings.Split(*contacts, ",")
	}
	mode := progressMode(*prog, stderr)
	var bar *progress
	opt.Progress = func(done, total int) {
		if bar == nil {
			bar = newProgress("preview", "contacts", mode, stderr, int64(total), 0, 0)
		}
		bar.update(int64(done), done)
	}
	rep, err := preview.Run(ctx, s, r.Docs, opt)
	if bar != nil && err == nil {
		bar.done(rep.Contacts)
	}
	if err != nil {
		fmt.Fprintln(stderr, "leadflow preview:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "leadflow preview:", err)
			return 1
		}
		return 0
	}
	printPreview(stdout, rep)
	return 0
}

// printPreview writes a report as text: one table per draft.
func printPreview(w io.Writer, rep *preview.Report) {
	fmt.Fprintf(w, "Preview over %s → %s: %d contacts, %d events replayed in %.1fs%s\n",
		rep.Since.Format(time.DateOnly), rep.Until.Format(time.DateOnly), rep.Contacts, rep.Events, rep.Seconds, map[bool]string{true: " (a sample)"}[rep.Sampled])
	row := func(name string, pub, draft any) {
		fmt.Fprintf(w, "  %-34s %12v %12v\n", name, pub, draft)
	}
	header := func(kind, id string, version int) {
		what := fmt.Sprintf("replaces v%d", version)
		if version == 0 {
			what = "new"
		}
		fmt.Fprintf(w, "\n%s %s (draft %s)\n", kind, id, what)
		row("", "published", "draft")
	}
	for _, m := range rep.Models {
		header("Score model", m.ID, m.PublishedVersion)
		p, d := m.Figures.Published, m.Figures.Draft
		row("contacts with a score", p.Contacts, d.Contacts)
		row("mean score", p.Mean, d.Mean)
		for _, b := range unionKeys(p.Bands, d.Bands) {
			name := b
			if name == "" {
				name = "(no band)"
			}
			row("band "+name, p.Bands[b], d.Bands[b])
		}
		for _, th := range unionKeys(p.Thresholds, d.Thresholds) {
			row("threshold "+th+" crossings", p.Thresholds[th].Crossings, d.Thresholds[th].Crossings)
		}
		row("CRM tasks from thresholds", p.Tasks.Total, d.Tasks.Total)
		if m.BandChanges.Contacts > 0 {
			var parts []string
			for _, c := range unionKeys(m.BandChanges.ByChange, nil) {
				parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(c, "→", "->"), m.BandChanges.ByChange[c]))
			}
			fmt.Fprintf(w, "  band changes: %d contacts (%s)\n", m.BandChanges.Contacts, strings.Join(parts, ", "))
			for _, e := range m.BandChanges.Examples[:min(5, len(m.BandChanges.Examples))] {
				fmt.Fprintf(w, "    %s: %s (%g) -> %s (%g)\n", e.ContactID, orNone(e.From), e.PublishedScore, orNone(e.To), e.DraftScore)
			}
		} else {
			fmt.Fprintln(w, "  band changes: none")
		}
		if len(d.TopRules) > 0 {
			var parts []string
			for _, r := range d.TopRules[:min(5, len(d.TopRules))] {
				parts = append(parts, fmt.Sprintf("%s %+g (%d hits)", r.Rule, r.Points, r.Hits))
			}
			fmt.Fprintf(w, "  top rules (draft): %s\n", strings.Join(parts, ", "))
		}
	}
	for _, f := range rep.Flows {
		header("Flow", f.ID, f.PublishedVersion)
		p, d := f.Figures.Published, f.Figures.Draft
		row("entries", p.Entries, d.Entries)
		row("completed", p.Completed, d.Completed)
		row("exited", p.Exited, d.Exited)
		row("CRM tasks", p.Tasks.Total, d.Tasks.Total)
	}
	for _, sg := range rep.Segments {
		header("Segment", sg.ID, sg.PublishedVersion)
		p, d := sg.Figures.Published, sg.Figures.Draft
		row("members at the end", p.Members, d.Members)
		row("entered", p.Entered, d.Entered)
		row("exited", p.Exited, d.Exited)
	}
	fmt.Fprintf(w, "\nCRM tasks in the window, every source: published %d, draft %d\n", rep.Tasks.Published.Total, rep.Tasks.Draft.Total)
}

func orNone(band string) string {
	if band == "" {
		return "(no band)"
	}
	return band
}

// unionKeys returns the keys of a and b, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
