package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefinitionInput is one validated document to publish.
type DefinitionInput struct {
	ID   string
	Kind string
	Hash string
	Body json.RawMessage // canonical JSON
}

// PublishResult says what publishing one document did.
type PublishResult struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Version int    `json:"version"`
	Changed bool   `json:"changed"`
	Status  string `json:"status"`
}

// Definition is a definition's current state.
type Definition struct {
	ID             string          `json:"id"`
	Kind           string          `json:"kind"`
	Status         string          `json:"status"`
	CurrentVersion int             `json:"current_version"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Body           json.RawMessage `json:"body,omitempty"`
}

// DefinitionVersion is one published version of a definition.
type DefinitionVersion struct {
	Version     int             `json:"version"`
	Hash        string          `json:"hash"`
	PublishedAt time.Time       `json:"published_at"`
	Body        json.RawMessage `json:"body"`
}

// ErrKindChanged is returned when a document reuses the id of a definition of another kind.
type ErrKindChanged struct{ ID, Old, New string }

func (e *ErrKindChanged) Error() string {
	return fmt.Sprintf("definition %q is a %s and cannot become a %s; choose another id", e.ID, e.Old, e.New)
}

// Publish stores documents as new versions, all or nothing. A document whose
// content hash equals its current version publishes nothing new (but a
// paused or archived definition is published again).
func (s *Store) Publish(ctx context.Context, docs []DefinitionInput) ([]PublishResult, error) {
	var out []PublishResult
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7345002)`); err != nil {
			return err
		}
		for _, d := range docs {
			var kind, status, hash string
			var version int
			err := tx.QueryRow(ctx, `SELECT d.kind, d.status, d.current_version, v.hash FROM definitions d
				JOIN definition_versions v ON v.id = d.id AND v.version = d.current_version WHERE d.id = $1`, d.ID).
				Scan(&kind, &status, &version, &hash)
			switch {
			case err == pgx.ErrNoRows:
				if _, err := tx.Exec(ctx, `INSERT INTO definitions (id, kind, current_version) VALUES ($1, $2, 1)`, d.ID, d.Kind); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO definition_versions (id, version, hash, body) VALUES ($1, 1, $2, $3)`, d.ID, d.Hash, d.Body); err != nil {
					return err
				}
				if err := reevaluateOnPublish(ctx, tx, d.ID, d.Kind, 1); err != nil {
					return err
				}
				out = append(out, PublishResult{ID: d.ID, Kind: d.Kind, Version: 1, Changed: true, Status: "published"})
				continue
			case err != nil:
				return fmt.Errorf("error loading definition %q: %w", d.ID, err)
			}
			if kind != d.Kind {
				return &ErrKindChanged{ID: d.ID, Old: kind, New: d.Kind}
			}
			if hash == d.Hash {
				if status != "published" {
					if _, err := tx.Exec(ctx, `UPDATE definitions SET status = 'published', updated_at = now() WHERE id = $1`, d.ID); err != nil {
						return err
					}
					if err := reevaluateOnPublish(ctx, tx, d.ID, d.Kind, version); err != nil {
						return err
					}
				}
				out = append(out, PublishResult{ID: d.ID, Kind: d.Kind, Version: version, Changed: false, Status: "published"})
				continue
			}
			version++
			if _, err := tx.Exec(ctx, `INSERT INTO definition_versions (id, version, hash, body) VALUES ($1, $2, $3, $4)`, d.ID, version, d.Hash, d.Body); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE definitions SET current_version = $2, status = 'published', updated_at = now() WHERE id = $1`, d.ID, version); err != nil {
				return err
			}
			if err := reevaluateOnPublish(ctx, tx, d.ID, d.Kind, version); err != nil {
				return err
			}
			out = append(out, PublishResult{ID: d.ID, Kind: d.Kind, Version: version, Changed: true, Status: "published"})
		}
		for _, d := range docs {
			if d.Kind == "flow" {
				if err := queueScheduleSync(ctx, tx, d.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Definitions lists every definition with the body of its current version.
func (s *Store) Definitions(ctx context.Context) ([]Definition, error) {
	rows, err := s.Pool.Query(ctx, `SELECT d.id, d.kind, d.status, d.current_version, d.created_at, d.updated_at, v.body
		FROM definitions d JOIN definition_versions v ON v.id = d.id AND v.version = d.current_version ORDER BY d.kind, d.id`)
	if err != nil {
		return nil, fmt.Errorf("error listing definitions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Definition, error) {
		var d Definition
		err := r.Scan(&d.ID, &d.Kind, &d.Status, &d.CurrentVersion, &d.CreatedAt, &d.UpdatedAt, &d.Body)
		return d, err
	})
}

// Definition returns one definition and all its versions, newest first.
func (s *Store) Definition(ctx context.Context, id string) (Definition, []DefinitionVersion, error) {
	var d Definition
	err := s.Pool.QueryRow(ctx, `SELECT d.id, d.kind, d.status, d.current_version, d.created_at, d.updated_at, v.body
		FROM definitions d JOIN definition_versions v ON v.id = d.id AND v.version = d.current_version WHERE d.id = $1`, id).
		Scan(&d.ID, &d.Kind, &d.Status, &d.CurrentVersion, &d.CreatedAt, &d.UpdatedAt, &d.Body)
	if err == pgx.ErrNoRows {
		return d, nil, ErrNotFound
	}
	if err != nil {
		return d, nil, fmt.Errorf("error loading definition %q: %w", id, err)
	}
	rows, err := s.Pool.Query(ctx, `SELECT version, hash, published_at, body FROM definition_versions WHERE id = $1 ORDER BY version DESC`, id)
	if err != nil {
		return d, nil, fmt.Errorf("error loading versions of %q: %w", id, err)
	}
	versions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DefinitionVersion, error) {
		var v DefinitionVersion
		err := r.Scan(&v.Version, &v.Hash, &v.PublishedAt, &v.Body)
		return v, err
	})
	return d, versions, err
}

// SetDefinitionStatus pauses, resumes (publishes) or archives a definition.
// A score model or segment resumed from a pause re-evaluates every existing
// contact, as a new version does; a schedule flow's Temporal Schedule
// follows (see queueScheduleSync).
func (s *Store) SetDefinitionStatus(ctx context.Context, id, status string) (Definition, error) {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var kind, old string
		var version int
		err := tx.QueryRow(ctx, `SELECT kind, status, current_version FROM definitions WHERE id = $1 FOR UPDATE`, id).Scan(&kind, &old, &version)
		if err == pgx.ErrNoRows {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("error loading definition %q: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE definitions SET status = $2, updated_at = now() WHERE id = $1`, id, status); err != nil {
			return fmt.Errorf("error setting status of %q: %w", id, err)
		}
		if status == "published" && old != "published" {
			if err := reevaluateOnPublish(ctx, tx, id, kind, version); err != nil {
				return err
			}
		}
		return queueScheduleSync(ctx, tx, id)
	})
	if err != nil {
		return Definition{}, err
	}
	d, _, err := s.Definition(ctx, id)
	return d, err
}

// reevaluateOnPublish starts the re-evaluation of every existing contact
// when a score model or segment version becomes the published one; flows
// apply to what happens next only.
func reevaluateOnPublish(ctx context.Context, tx pgx.Tx, id, kind string, version int) error {
	if kind != "score_model" && kind != "segment" {
		return nil
	}
	return startReevaluation(ctx, tx, id, version)
}

// DefinitionVersionBody returns the body of one version of a definition.
func DefinitionVersionBody(ctx context.Context, q pgx.Tx, id string, version int) (json.RawMessage, error) {
	var body json.RawMessage
	err := q.QueryRow(ctx, `SELECT body FROM definition_versions WHERE id = $1 AND version = $2`, id, version).Scan(&body)
	if err == pgx.ErrNoRows {
		return nil, ErrNotFound
	}
	return body, err
}

// DefinitionsStamp changes whenever any definition is published, paused or resumed.
func DefinitionsStamp(ctx context.Context, q pgx.Tx) (string, error) {
	var stamp string
	err := q.QueryRow(ctx, `SELECT count(*)::text || '/' || coalesce(max(updated_at)::text, '') || '/' ||
		coalesce(sum(current_version), 0)::text FROM definitions`).Scan(&stamp)
	return stamp, err
}
