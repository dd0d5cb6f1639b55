package engine

import (
	"context"
	"fmt"

	"github.com/leadflow/leadflow/definitions"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// Publish stores validated documents as new versions (all or none), in
// their canonical form with its content hash: an unchanged document keeps
// its version.
func Publish(ctx context.Context, s *store.Store, docs []flows.Document) ([]store.PublishResult, error) {
	in := make([]store.DefinitionInput, 0, len(docs))
	for _, d := range docs {
		body, err := flows.Canonical(d)
		if err != nil {
			return nil, fmt.Errorf("error encoding definition %q: %w", d.ID(), err)
		}
		in = append(in, store.DefinitionInput{ID: d.ID(), Kind: d.Kind(), Hash: flows.Hash(d), Body: body})
	}
	return s.Publish(ctx, in)
}

// PublishShipped validates the shipped definitions together and publishes them.
func PublishShipped(ctx context.Context, s *store.Store) ([]store.PublishResult, error) {
	var all []flows.Document
	var errs flows.Errors
	for _, name := range definitions.Names() {
		data, err := definitions.FS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		docs, derrs := flows.Decode(name, data)
		errs = append(errs, derrs...)
		all = append(all, docs...)
	}
	if len(errs) == 0 {
		errs = flows.Validate("definitions", all, nil)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the shipped definitions are invalid:\n%w", errs)
	}
	return Publish(ctx, s, all)
}

// KnownCatalog decodes the definitions already in the database that new
// documents may refer to (published and paused ones, not archived), for
// validating drafts before they are published or previewed. A stored body
// that no longer decodes is left out and reported to skipped.
func KnownCatalog(ctx context.Context, s *store.Store, skipped func(id string, version int, errs flows.Errors)) (*flows.Catalog, error) {
	defs, err := s.Definitions(ctx)
	if err != nil {
		return nil, err
	}
	var docs []flows.Document
	for _, d := range defs {
		if d.Status == "archived" {
			continue
		}
		decoded, errs := flows.Decode(d.ID, d.Body)
		if len(errs) > 0 {
			if skipped != nil {
				skipped(d.ID, d.CurrentVersion, errs)
			}
			continue
		}
		docs = append(docs, decoded...)
	}
	return flows.NewCatalog(docs), nil
}
