package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// ActivityQuery says which past events LoadStates loads: for each matcher,
// enough of the applied events of its type in the window (Since, ∞) to
// decide any count it is compared against, at Now or later.
//
// A count compared with n (eq, neq, gt, gte, lt, lte n, or a frequency
// rule's "exactly the n-th") depends only on min(count, n+1). Events dated
// up to Now are read newest first, page by page, until every matcher of the
// type has seen its Need matching events or the events run out; events
// dated after Now (the edge accepts at most 24 hours ahead) are all read.
// For every window (t−w, t] with t ≥ Now, its events dated up to Now are
// the newest ones, so the loaded set holds either every matching event of
// the window or at least Need of them: every count condition and frequency
// rule evaluates, and changes over time, exactly as with every event
// loaded. What one applied event costs no longer grows with the contact's
// history (only with its future-dated events).
type ActivityQuery struct {
	Since    time.Time
	Now      time.Time
	Matchers []ActivityMatcher
}

// ActivityMatcher is one kind of event evaluation counts.
type ActivityMatcher struct {
	Type string
	// Match tells whether an event of Type is counted (nil: every one).
	Match func(properties map[string]any) bool
	// Need is the most matching events dated up to Now the evaluation needs:
	// the largest count compared against, plus one.
	Need int
	// Selective: Match may refuse many events, so read bigger pages.
	Selective bool
}

// Page sizes of the activity read.
const (
	activityFirstPageMin = 8
	activityPageMax      = 4096
)

// activityCursor reads one contact's events of one type: newest first up to
// Now, or (future) every one after Now, oldest first.
type activityCursor struct {
	contact  string
	typ      string
	future   bool
	matchers []ActivityMatcher
	seen     []int // matching events seen, per matcher
	page     int
	at       time.Time // position: the last row read
	seq      int64
	done     bool
}

func (c *activityCursor) satisfied() bool {
	if c.future {
		return false // every one is read
	}
	for i, m := range c.matchers {
		if c.seen[i] < m.Need {
			return false
		}
	}
	return true
}

// take counts a row and says whether to keep it (it matches a matcher).
func (c *activityCursor) take(props map[string]any) bool {
	keep := false
	for i, m := range c.matchers {
		if m.Match == nil || m.Match(props) {
			c.seen[i]++
			keep = true
		}
	}
	return keep
}

type activityRow struct {
	contact, typ string
	future       bool
	at           time.Time
	seq          int64
	props        []byte
	decoded      map[string]any
}

// loadActivity reads the events q asks for into the states' Activity,
// oldest first.
func loadActivity(ctx context.Context, tx pgx.Tx, ids []string, q ActivityQuery, out map[string]*ContactState) error {
	if len(q.Matchers) == 0 || len(ids) == 0 {
		return nil
	}
	byType := map[string][]ActivityMatcher{}
	var types []string
	for _, m := range q.Matchers {
		if byType[m.Type] == nil {
			types = append(types, m.Type)
		}
		byType[m.Type] = append(byType[m.Type], m)
	}
	sort.Strings(types)
	firstPage := make([]int32, len(types))
	for i, t := range types {
		need, selective := 1, false
		for _, m := range byType[t] {
			need = max(need, m.Need)
			selective = selective || m.Selective
		}
		if selective {
			need *= 4
		}
		firstPage[i] = int32(min(max(need, activityFirstPageMin), activityPageMax))
	}
	cursors := map[string]*activityCursor{}
	key := func(contact, typ string, future bool) string {
		return fmt.Sprintf("%t\x00%s\x00%s", future, typ, contact)
	}
	var order []*activityCursor
	for _, id := range ids {
		for i, t := range types {
			for _, future := range []bool{false, true} {
				c := &activityCursor{contact: id, typ: t, future: future, matchers: byType[t],
					seen: make([]int, len(byType[t])), page: int(firstPage[i]), at: q.Now, seq: math.MaxInt64}
				cursors[key(id, t, future)] = c
				order = append(order, c)
			}
		}
	}
	kept := map[string][]activityRow{} // by contact
	// consume reads one page of a cursor's rows, in its order.
	consume := func(c *activityCursor, rows []activityRow) error {
		for _, r := range rows {
			c.at, c.seq = r.at, r.seq
			if c.satisfied() {
				c.done = true
				return nil
			}
			props, err := decodeProperties(r.props)
			if err != nil {
				return fmt.Errorf("error decoding properties of an event of contact %q: %w", c.contact, err)
			}
			if c.take(props) {
				r.props, r.decoded = nil, props
				kept[c.contact] = append(kept[c.contact], r)
			}
		}
		if c.future || len(rows) < c.page || c.satisfied() {
			c.done = true
		}
		c.page = min(c.page*2, activityPageMax)
		return nil
	}

	// First pages of every cursor in one query.
	rows, err := tx.Query(ctx, `
		SELECT c.id, t.type, false, e.occurred_at, e.seq, e.properties
		FROM unnest($1::text[]) AS c(id)
		CROSS JOIN unnest($2::text[], $3::int[]) AS t(type, lim)
		CROSS JOIN LATERAL (SELECT occurred_at, seq, properties FROM events
			WHERE contact_id = c.id AND type = t.type AND applied_at IS NOT NULL AND occurred_at > $4 AND occurred_at <= $5
			ORDER BY occurred_at DESC, seq DESC LIMIT t.lim) e
		UNION ALL
		SELECT c.id, t.type, true, e.occurred_at, e.seq, e.properties
		FROM unnest($1::text[]) AS c(id)
		CROSS JOIN unnest($2::text[], $3::int[]) AS t(type, lim)
		CROSS JOIN LATERAL (SELECT occurred_at, seq, properties FROM events
			WHERE contact_id = c.id AND type = t.type AND applied_at IS NOT NULL AND occurred_at > $5) e`,
		ids, types, firstPage, q.Since, q.Now)
	if err != nil {
		return fmt.Errorf("error loading past events: %w", err)
	}
	pages := map[*activityCursor][]activityRow{}
	for rows.Next() {
		var r activityRow
		if err := rows.Scan(&r.contact, &r.typ, &r.future, &r.at, &r.seq, &r.props); err != nil {
			rows.Close()
			return fmt.Errorf("error reading past events: %w", err)
		}
		c := cursors[key(r.contact, r.typ, r.future)]
		pages[c] = append(pages[c], r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error loading past events: %w", err)
	}
	for _, c := range order {
		page := pages[c]
		sort.Slice(page, func(i, j int) bool { return c.before(page[i], page[j]) })
		if err := consume(c, page); err != nil {
			return err
		}
	}
	// Further pages, only for the cursors whose matchers still need more.
	for {
		var open []*activityCursor
		for _, c := range order {
			if !c.done {
				open = append(open, c)
			}
		}
		if len(open) == 0 {
			break
		}
		b := &pgx.Batch{}
		for _, c := range open {
			c := c
			b.Queue(`SELECT occurred_at, seq, properties FROM events
				WHERE contact_id = $1 AND type = $2 AND applied_at IS NOT NULL AND occurred_at > $3 AND (occurred_at, seq) < ($4, $5)
				ORDER BY occurred_at DESC, seq DESC LIMIT $6`, c.contact, c.typ, q.Since, c.at, c.seq, c.page).Query(func(rows pgx.Rows) error {
				var page []activityRow
				for rows.Next() {
					r := activityRow{contact: c.contact, typ: c.typ, future: c.future}
					if err := rows.Scan(&r.at, &r.seq, &r.props); err != nil {
						return err
					}
					page = append(page, r)
				}
				if err := rows.Err(); err != nil {
					return err
				}
				return consume(c, page)
			})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("error loading past events: %w", err)
		}
	}
	for id, rows := range kept {
		sort.Slice(rows, func(i, j int) bool {
			return rows[i].at.Before(rows[j].at) || rows[i].at.Equal(rows[j].at) && rows[i].seq < rows[j].seq
		})
		act := make([]ActivityRow, len(rows))
		for i, r := range rows {
			act[i] = ActivityRow{Type: r.typ, At: r.at, Properties: r.decoded}
		}
		out[id].Activity = act
	}
	return nil
}

// before orders rows the way the cursor reads them.
func (c *activityCursor) before(a, b activityRow) bool {
	if c.future {
		return a.at.Before(b.at) || a.at.Equal(b.at) && a.seq < b.seq
	}
	return a.at.After(b.at) || a.at.Equal(b.at) && a.seq > b.seq
}

func decodeProperties(raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}
