package backup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/internal/names"
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
	var channelNames []string
	err := r.request(ctx, prioListing, func() error {
		for c, err := range r.src.ListChannels(ctx, r.o.Service, "public", "private") {
			if err != nil {
				return err
			}
			channelNames = append(channelNames, cmp.Or(c.UniqueName, c.SID))
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
	return fmt.Errorf("%s; %s: %w", msg, names.Suggest(missing, channelNames, "the service"), ErrUnknownChannel)
}
