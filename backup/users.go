package backup

import (
	"context"
	"fmt"
	"slices"

	"github.com/chatvault/chatvault/store"
)

// userBatch is how many users are queued to the archive at once.
const userBatch = 100

// listUsers lists the users of the service and, once the snapshot is begun,
// stores them (those listed before a failure too) and records the deletion
// of archived users a complete listing no longer has. A failed listing is
// recorded as a failure; no user is then recorded as deleted.
func (r *run) listUsers(ctx context.Context) error {
	var users []store.UserRecord
	err := r.request(ctx, prioListing, func() error {
		for u, err := range r.src.ListUsers(ctx, r.o.Service) {
			if err != nil {
				return err
			}
			users = append(users, store.UserRecord{SID: u.SID, Identity: u.Identity, Raw: u.Raw})
		}
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return err
	}
	if aborts(err) {
		return fmt.Errorf("listing users: %w", err)
	}
	if !r.awaitSnapshot(ctx) {
		return nil
	}
	listed := make(map[string]bool, len(users))
	for chunk := range slices.Chunk(users, userBatch) {
		for _, u := range chunk {
			listed[u.SID] = true
		}
		if err := r.w.PutUsers(chunk); err != nil {
			return fmt.Errorf("listing users: %w", storeErr(err))
		}
	}
	r.mu.Lock()
	r.users = len(listed)
	r.mu.Unlock()
	if err != nil {
		r.fail("", fmt.Errorf("listing the users of service %s: %w; users keep their previous state and none was recorded as deleted: rerun the backup", r.o.Service, err))
		return nil
	}
	live, err := r.a.LiveUsers(r.o.Service)
	if err != nil {
		return storeErr(fmt.Errorf("reading the users of service %s from archive %s: %w", r.o.Service, r.a.Path(), err))
	}
	gone := slices.DeleteFunc(live, func(sid string) bool { return listed[sid] })
	if len(gone) > 0 {
		if err := r.w.DeleteUsers(gone); err != nil {
			return storeErr(err)
		}
	}
	return nil
}
