package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress shows how far a long command is: a bar redrawn in place on a
// terminal, a log line every few seconds otherwise. done and total count
// the work (bytes of a file, contacts…); items are what the rate counts.
type progress struct {
	label      string // the command, at the start of log lines
	unit       string // what items are
	mode       string
	w          io.Writer
	total      int64
	startBytes int64
	startRows  int
	start      time.Time
	lastLog    time.Time
}

func newProgress(label, unit, mode string, w io.Writer, total, startBytes int64, startRows int) *progress {
	now := time.Now()
	return &progress{label: label, unit: unit, mode: mode, w: w, total: total, startBytes: startBytes, startRows: startRows, start: now, lastLog: now}
}

// progressMode turns "auto" into a bar on a terminal and log lines
// otherwise.
func progressMode(mode string, w io.Writer) string {
	if mode != "auto" {
		return mode
	}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return "bar"
		}
	}
	return "log"
}

func (p *progress) update(done int64, rows int) {
	if p.mode == "none" {
		return
	}
	elapsed := time.Since(p.start).Seconds()
	rate := float64(rows-p.startRows) / max(elapsed, 1e-3)
	frac := 1.0
	if p.total > 0 {
		frac = float64(done) / float64(p.total)
	}
	eta := "?"
	if done > p.startBytes {
		left := time.Duration(float64(p.total-done) / (float64(done-p.startBytes) / max(elapsed, 1e-3)) * float64(time.Second))
		eta = left.Round(time.Second).String()
	}
	switch p.mode {
	case "bar":
		const width = 30
		fill := int(frac * width)
		fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %d %s  %.0f %s/s  ETA %s   ",
			strings.Repeat("#", fill), strings.Repeat(".", width-fill), frac*100, rows, p.unit, rate, p.unit, eta)
	case "log":
		if time.Since(p.lastLog) >= 5*time.Second {
			p.lastLog = time.Now()
			fmt.Fprintf(p.w, "%s: %d %s (%.0f%%), %.0f %s/s, ETA %s\n", p.label, rows, p.unit, frac*100, rate, p.unit, eta)
		}
	}
}

func (p *progress) done(rows int) {
	if p.mode == "bar" {
		p.update(p.total, rows)
		fmt.Fprintln(p.w)
	}
}
