package insight

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// WriteCSV writes the report as one table: a "total" row, a row per band,
// a row per decile and a row per rule, told apart by the section column;
// columns that do not apply to a row are empty.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	head := []string{"section", "name", "min_score", "max_score", "contacts", "conversions", "rate", "ci_low", "ci_high",
		"median_days_from_first_touch"}
	for _, th := range r.Thresholds {
		head = append(head, "median_days_from_threshold_"+th)
	}
	head = append(head, "auc", "kind", "points", "converters_triggered", "converters", "non_converters_triggered", "non_converters", "lift")
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("error writing the conversion report as CSV: %w", err)
	}
	group := func(section, name string, g Group, auc *float64) []string {
		row := []string{section, name, num(g.MinScore), num(g.MaxScore), strconv.Itoa(g.Contacts), strconv.Itoa(g.Conversions), num(g.Rate)}
		if g.Interval != nil {
			row = append(row, fnum(g.Interval.Low), fnum(g.Interval.High))
		} else {
			row = append(row, "", "")
		}
		row = append(row, num(g.MedianDaysFromFirstTouch))
		for _, th := range r.Thresholds {
			row = append(row, num(g.MedianDaysFromThreshold[th]))
		}
		return append(row, num(auc), "", "", "", "", "", "", "")
	}
	total := Group{Contacts: r.Contacts, Conversions: r.Conversions, Rate: r.Rate, Interval: r.Interval,
		MedianDaysFromFirstTouch: r.MedianDaysFromFirstTouch, MedianDaysFromThreshold: r.MedianDaysFromThreshold}
	rows := [][]string{group("total", r.Model, total, r.AUC)}
	for _, g := range r.Bands {
		rows = append(rows, group("band", g.Band, g, nil))
	}
	for _, g := range r.Deciles {
		rows = append(rows, group("decile", strconv.Itoa(g.Decile), g, nil))
	}
	for _, l := range r.Rules {
		row := []string{"rule", l.Rule, "", "", "", "", "", "", "", ""}
		for range r.Thresholds {
			row = append(row, "")
		}
		row = append(row, "", l.Kind, fnum(l.Points), strconv.Itoa(l.ConvertersTriggered), strconv.Itoa(l.Converters),
			strconv.Itoa(l.NonConvertersTriggered), strconv.Itoa(l.NonConverters), num(l.Lift))
		rows = append(rows, row)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("error writing the conversion report as CSV: %w", err)
	}
	return nil
}

func fnum(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

func num(x *float64) string {
	if x == nil {
		return ""
	}
	return fnum(*x)
}
