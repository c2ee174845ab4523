package backup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// checkNamed waits until the listing has looked up every channel of
// Options.Channels, and fails before a snapshot is begun when the service
// has none of them: a snapshot of a mistyped name holds nothing and only
// crowds the archive. The error (ErrUnknownChannel) names the channels the
// user may have meant. When some of the names exist, the run goes on and
// the others are failures of a partial snapshot, as before.
func (r *run) checkNamed(ctx context.Context) error {
	if len(r.o.Channels) == 0 {
		return nil
	}
	select {
	case <-r.named:
	case <-ctx.Done():
		return nil // Run reports the interruption
	}
	missing := slices.Clone(r.missing) // written before named was closed
	if len(missing) == 0 || r.found > 0 {
		return nil
	}
	slices.Sort(missing)
	var names []string
	err := r.request(ctx, prioListing, func() error {
		for c, err := range r.src.ListChannels(ctx, r.o.Service, "public", "private") {
			if err != nil {
				return err
			}
			names = append(names, cmp.Or(c.UniqueName, c.SID))
		}
		return nil
	})
	quoted := make([]string, len(missing))
	for i, m := range missing {
		quoted[i] = fmt.Sprintf("%q", m)
	}
	msg := fmt.Sprintf("backup of service %s: no channel %s in the service, so no snapshot was recorded", r.o.Service, strings.Join(quoted, ", "))
	if err != nil {
		return fmt.Errorf("%s (listing its channels to suggest others failed too: %v): %w", msg, err, ErrUnknownChannel)
	}
	return fmt.Errorf("%s; %s: %w", msg, suggest(missing, names), ErrUnknownChannel)
}

// suggest says which of names the user may have meant by missing.
func suggest(missing, names []string) string {
	if len(names) == 0 {
		return "the service has no channels"
	}
	var near []string
	for _, m := range missing {
		for _, n := range closest(m, names, 5) {
			if !slices.Contains(near, n) {
				near = append(near, n)
			}
		}
	}
	if len(near) > 0 {
		return "did you mean " + strings.Join(near, ", ") + "?"
	}
	slices.Sort(names)
	if len(names) > 8 {
		return fmt.Sprintf("its %d channels include %s, …", len(names), strings.Join(names[:8], ", "))
	}
	return "its channels are " + strings.Join(names, ", ")
}

// closest returns up to n of the names nearest to name: those containing
// it or contained in it (ignoring case) count as one edit away; others
// count their edits, up to a third of name's length (at least 2).
func closest(name string, names []string, n int) []string {
	type scored struct {
		name string
		d    int
	}
	lower := strings.ToLower(name)
	limit := max(2, len(name)/3)
	var hits []scored
	for _, c := range names {
		lc := strings.ToLower(c)
		switch d := editDistance(lower, lc); {
		case strings.Contains(lc, lower) || strings.Contains(lower, lc):
			hits = append(hits, scored{c, min(d, 1)})
		case d <= limit:
			hits = append(hits, scored{c, d})
		}
	}
	slices.SortStableFunc(hits, func(a, b scored) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, h := range hits[:min(n, len(hits))] {
		if h.d > hits[0].d {
			break // only the nearest: one typo away beats two
		}
		out = append(out, h.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
