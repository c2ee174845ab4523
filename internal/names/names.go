// Package names suggests, for a name a user typed that matches nothing,
// the names they may have meant: backup and restore both answer a
// mistyped --channel with them.
package names

import (
	"fmt"
	"slices"
	"strings"
)

// Suggest says which of names, the channels of in ("the service", say),
// the user may have meant by missing. The words that follow the message
// naming in read "its channels".
func Suggest(missing, names []string, in string) string {
	if len(names) == 0 {
		return in + " has no channels"
	}
	var near []string
	for _, m := range missing {
		for _, n := range Closest(m, names, 5) {
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

// Closest returns up to n of the names nearest to name: those containing
// it or contained in it (ignoring case) count as one edit away; others
// count their edits, up to a third of name's length (at least 2).
func Closest(name string, names []string, n int) []string {
	type scored struct {
		name string
		d    int
	}
	lower := strings.ToLower(name)
	limit := max(2, len(name)/3)
	var hits []scored
	for _, c := range names {
		lc := strings.ToLower(c)
		switch d := EditDistance(lower, lc); {
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

// EditDistance is the Levenshtein distance between a and b, in runes.
func EditDistance(a, b string) int {
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
