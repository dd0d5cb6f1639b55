package api

// Scores as the API shows them. The engine materialises half-life decay
// only when a contact changes or its score reaches a mark, so every read
// asks the store for the scores as they stand at the request's time
// (cfg.Now) under the half-lives of the published score models, and
// places them in the current model's bands, each with its colour.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// scoreModels are the published score models (current versions) by id.
type scoreModels map[string]*flows.ScoreModel

// scoreModels decodes the current version of every score model that is not
// archived. A stored body that no longer decodes is left out and logged:
// its scores are then shown as stored.
func (s *server) scoreModels(ctx context.Context) (scoreModels, error) {
	defs, err := s.cfg.Store.Definitions(ctx)
	if err != nil {
		return nil, fmt.Errorf("error loading the score models: %w", err)
	}
	out := scoreModels{}
	for _, d := range defs {
		if d.Kind != flows.KindScoreModel || d.Status == "archived" {
			continue
		}
		docs, errs := flows.Decode(d.ID, d.Body)
		if len(errs) > 0 {
			s.log.Warn().Str("definition", d.ID).Int("version", d.CurrentVersion).Str("errors", errs.Error()).
				Msg("a published score model no longer decodes; its scores are shown as stored")
			continue
		}
		for _, doc := range docs {
			if doc.ScoreModel != nil {
				out[doc.ScoreModel.ID] = doc.ScoreModel
			}
		}
	}
	return out, nil
}

// halfLife is the model's half-life (0: none, or not published).
func (m scoreModels) halfLife(model string) time.Duration {
	if sm := m[model]; sm != nil && sm.Decay != nil {
		return sm.Decay.HalfLife.Duration
	}
	return 0
}

// clock reads scores at now under the models' half-lives.
func (m scoreModels) clock(now time.Time) store.ScoreClock {
	c := store.ScoreClock{Now: now, HalfLives: map[string]time.Duration{}}
	for id := range m {
		if hl := m.halfLife(id); hl > 0 {
			c.HalfLives[id] = hl
		}
	}
	return c
}

// band places a score in the model's bands: the band's name and colour,
// or "" when the score is below every band. For a model not published
// there are no bands to place it in: the band the engine last stored is
// shown, without a colour.
func (m scoreModels) band(model string, score float64, stored string) (name, color string) {
	sm := m[model]
	if sm == nil {
		return stored, ""
	}
	b, ok := flows.BandFor(sm, score)
	if !ok {
		return "", ""
	}
	return b.Name, b.Color
}

// bands lists the model's bands (none when it is not published).
func (m scoreModels) bands(model string) []bandJSON {
	out := []bandJSON{}
	if sm := m[model]; sm != nil {
		for _, b := range sm.Bands {
			out = append(out, bandJSON{Name: b.Name, Min: b.Min, Color: b.Color})
		}
	}
	return out
}

// rollup lists the models that declare "account_rollup": "sum", sorted.
func (m scoreModels) rollup() []string {
	out := []string{}
	for id, sm := range m {
		if sm.AccountRollup == "sum" {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// bandFilter turns ?band= into the scores the band holds, or a problem
// naming the bands there are.
func (m scoreModels) bandFilter(model, band string, p *problems) (min float64, below *float64) {
	sm := m[model]
	if sm == nil {
		p.add("band", "score model %q is not published, so it has no bands to filter by", model)
		return 0, nil
	}
	min, below, ok := flows.BandBounds(sm, band)
	if !ok {
		names := make([]string, 0, len(sm.Bands))
		for _, b := range sm.Bands {
			names = append(names, b.Name)
		}
		if len(names) == 0 {
			p.add("band", "score model %q has no bands", model)
		} else {
			p.add("band", "%q is not a band of score model %q; its bands are %s", band, model, strings.Join(names, ", "))
		}
	}
	return min, below
}

// bandedScore is a score with the band it falls in and the band's colour.
type bandedScore struct {
	Score float64 `json:"score"`
	Band  string  `json:"band"`
	Color string  `json:"color"`
}

// banded places score in the model's bands.
func (m scoreModels) banded(model string, score float64) bandedScore {
	name, color := m.band(model, score, "")
	return bandedScore{Score: score, Band: name, Color: color}
}
