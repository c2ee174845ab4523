package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/chatvault/chatvault/remote"
	"github.com/chatvault/chatvault/store"
	"golang.org/x/sync/errgroup"
)

// Users are restored before any channel, so members join users that
// already have their archived friendly name, attributes and role. The
// journal key us/<identity> holds the target user's SID once this restore
// created it, or userPending from just before its create is sent: identity
// is unique per service, so a user found under a journaled identity is
// ours, and a pending one was created by a create whose answer was lost.
// A sync deletes the users it created that the snapshot no longer has and
// marks their keys userDeleted (the journal cannot delete keys): a user
// found later under such an identity was made by someone else.

const (
	keyUser     = "us/"
	keyAPI      = "api/" // api/<name>: this restore wrote into the target through that API
	userPending = "pending"
	userDeleted = "deleted"
	// maxUserNotes bounds the warnings about users left alone.
	maxUserNotes = 10
)

func userKey(identity string) string { return keyUser + identity }

// srcUser is an archived user as restore reads it (null kept apart from "").
type srcUser struct {
	SID          string  `json:"sid"`
	Identity     string  `json:"identity"`
	FriendlyName *string `json:"friendly_name"`
	Attributes   *string `json:"attributes"`
	RoleSID      *string `json:"role_sid"`
}

// readUsers reads the snapshot's users; ones without identity are left out
// (the service cannot have them).
func readUsers(v snapshotView) ([]*srcUser, error) {
	recs, err := v.Users()
	if err != nil {
		return nil, fmt.Errorf("restore: read archived users: %w", err)
	}
	out := make([]*srcUser, 0, len(recs))
	for _, rec := range recs {
		var u srcUser
		if err := json.Unmarshal(rec.Raw, &u); err != nil {
			return nil, fmt.Errorf("restore: decode archived user %s: %w", rec.SID, err)
		}
		if u.Identity == "" {
			u.Identity = rec.Identity
		}
		if u.Identity != "" {
			out = append(out, &u)
		}
	}
	return out, nil
}

// selectedUsers reads the archived users a restore brings: all of them,
// or, when channels were named, those that are members of one of chans. A
// service may hold hundreds of thousands of users, created one after
// another at its 25 writes a second: restoring one channel must not
// create them all.
func selectedUsers(v snapshotView, chans []store.ChannelRecord, named bool) ([]*srcUser, error) {
	users, err := readUsers(v)
	if err != nil || !named {
		return users, err
	}
	members := map[string]bool{}
	for _, c := range chans {
		recs, err := v.Members(c.SID)
		if err != nil {
			return nil, fmt.Errorf("restore: read archived members of channel %s: %w", c.SID, err)
		}
		for _, rec := range recs {
			// A member without identity (an SMS participant of a
			// conversation) or that does not decode needs no user; its
			// channel reports it when it comes to its members.
			if m, err := parseMember(rec); err == nil {
				members[m.Identity] = true
			}
		}
	}
	return slices.DeleteFunc(users, func(u *srcUser) bool { return !members[u.Identity] }), nil
}

// userDiffs names the fields in which target user t differs from archived
// user u. roles maps archived role SIDs onto the target's deployment roles;
// an archived role without namesake there is not compared (restore cannot
// set it).
func userDiffs(u *srcUser, t *remote.User, roles map[string]string) diffs {
	var d diffs
	d.add("friendly_name", deref(u.FriendlyName) != t.FriendlyName)
	d.add("attributes", attrsDiffer(u.Attributes, t.Attributes))
	want, ok := roles[deref(u.RoleSID)]
	d.add("role_sid", ok && want != t.RoleSID)
	return d
}

// userParams are the parameters that give a user u's fields in the target.
func (r *runner) userParams(u *srcUser) remote.UserParams {
	p := remote.UserParams{Identity: u.Identity, FriendlyName: nonEmpty(u.FriendlyName), Attributes: u.Attributes}
	if t, ok := r.userRoles[deref(u.RoleSID)]; ok {
		p.RoleSID = &t
	}
	return p
}

// liveUsers lists the target's users by identity.
func liveUsers(ctx context.Context, dst Target, service string) (map[string]*remote.User, error) {
	live := map[string]*remote.User{}
	for t, err := range dst.ListUsers(ctx, service) {
		if err != nil {
			return nil, fmt.Errorf("restore: list users of target service %s: %w", service, err)
		}
		live[t.Identity] = t
	}
	return live, nil
}

// restoreUsers creates each archived user the target lacks and updates one
// that differs when this restore created it; a user someone else made is
// left alone (only its differences are reported, in Result.Warnings).
func (r *runner) restoreUsers(ctx context.Context) error {
	users := r.srcUsers
	doomed, err := r.goneUsers(users)
	if err != nil || len(users) == 0 && len(doomed) == 0 {
		return err
	}
	live, err := liveUsers(ctx, r.dst, r.o.Target)
	if err != nil {
		return r.stop(ctx, err)
	}
	if err := r.deleteUsers(ctx, doomed, live); err != nil {
		return err
	}
	type job struct {
		u       *srcUser
		target  string // "" to create
		foreign bool   // not created by restore: updated by a sync, never journaled as ours
	}
	var jobs []job
	var notes []string
	for _, u := range users {
		mark, ours, err := r.j.Get(userKey(u.Identity))
		if err != nil {
			return journalErr("read", userKey(u.Identity), err)
		}
		ours = ours && string(mark) != userDeleted
		t := live[u.Identity]
		switch {
		case t == nil:
			jobs = append(jobs, job{u: u})
		case ours && (string(mark) == userPending || len(userDiffs(u, t, r.userRoles)) > 0):
			jobs = append(jobs, job{u: u, target: t.SID})
		case !ours && r.o.Sync:
			if d := userDiffs(u, t, r.userRoles); len(d) > 0 {
				jobs = append(jobs, job{u: u, target: t.SID, foreign: true})
				notes = append(notes, fmt.Sprintf("user %q (%s) exists in the target and was not created by this restore; "+
					"--sync updates it to the archived user %s in %v", u.Identity, t.SID, u.SID, []string(d)))
			}
		case !ours:
			if d := userDiffs(u, t, r.userRoles); len(d) > 0 {
				notes = append(notes, fmt.Sprintf("user %q (%s) exists in the target and was not created by this restore; "+
					"it was left as it is though it differs from the archived user %s in %v", u.Identity, t.SID, u.SID, []string(d)))
			}
		}
	}
	r.noteUsers(notes)
	if r.o.DryRun {
		r.mu.Lock()
		r.planned.Users += len(jobs)
		r.planned.Writes += len(jobs)
		for _, jb := range jobs {
			r.planUser(jb.u.Identity, jb.target)
		}
		r.mu.Unlock()
		return nil
	}
	if len(jobs) == 0 {
		return nil
	}
	// The marks go before the creates: a user found under a marked
	// identity after a kill or a lost answer is then known to be ours.
	for _, jb := range jobs {
		if jb.target == "" {
			if err := r.j.Put(userKey(jb.u.Identity), []byte(userPending)); err != nil {
				return journalErr("write", userKey(jb.u.Identity), err)
			}
		}
	}
	if err := r.j.Flush(ctx); err != nil {
		return journalErr("flush", keyUser, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.o.Concurrency)
	for _, jb := range jobs {
		g.Go(func() error {
			sid, err := r.putUser(gctx, jb.u, jb.target)
			if err != nil {
				return err
			}
			if jb.foreign {
				r.update(func(res *Result) { res.Users++; res.Updated++ })
				return nil
			}
			if err := r.j.Put(userKey(jb.u.Identity), []byte(sid)); err != nil {
				return journalErr("write", userKey(jb.u.Identity), err)
			}
			r.update(func(res *Result) {
				res.Users++
				if r.o.Sync && jb.target != "" {
					res.Updated++
				}
			})
			return nil
		})
	}
	err = g.Wait()
	if ferr := r.j.Flush(context.WithoutCancel(ctx)); err == nil && ferr != nil {
		err = journalErr("flush", keyUser, ferr)
	}
	if err != nil {
		return r.stop(ctx, err)
	}
	return nil
}

// goneUser is a user this restore created that the snapshot no longer has.
type goneUser struct {
	identity string
	mark     string // the target SID, or userPending
}

// goneUsers lists, in a sync, the users this restore created (journaled,
// not deleted) that are not among the snapshot's users.
func (r *runner) goneUsers(users []*srcUser) ([]goneUser, error) {
	if !r.o.Sync || len(r.o.Channels) > 0 {
		// A sync of named channels deletes no user, as it deletes no
		// channel: what the others need is not known.
		return nil, nil
	}
	have := make(map[string]bool, len(users))
	for _, u := range users {
		have[u.Identity] = true
	}
	var out []goneUser
	err := r.j.Scan(keyUser, func(k string, v []byte) error {
		if id := k[len(keyUser):]; !have[id] && string(v) != userDeleted {
			out = append(out, goneUser{identity: id, mark: string(v)})
		}
		return nil
	})
	return out, journalErr("read", keyUser, err)
}

// deleteUsers deletes the users of doomed from the target, each once: a
// delete whose answer was lost is checked by a fetch (a 404 is success),
// and a user the target's list lacks is already gone (a killed sync
// deleted it), so only its mark is written. A user found under a doomed
// identity but another SID than the journaled one was made by someone else
// after ours was gone: it is left alone and reported in Result.Warnings.
// A dry run lists each delete in the plan.
func (r *runner) deleteUsers(ctx context.Context, doomed []goneUser, live map[string]*remote.User) error {
	var notes []string
	for _, g := range doomed {
		t := live[g.identity]
		if t != nil && g.mark != userPending && t.SID != g.mark {
			notes = append(notes, fmt.Sprintf("user %q (%s) is gone from the snapshot, but the target's user of that identity is not the one this restore created (%s); "+
				"it was left as it is", g.identity, t.SID, g.mark))
			t = nil // ours is gone
		}
		if r.o.DryRun {
			if t != nil {
				r.mu.Lock()
				r.planned.Deletes++
				r.planned.Writes++
				r.planned.Actions = append(r.planned.Actions, Action{Op: "delete", Kind: "user", Source: g.identity, Target: t.SID})
				r.mu.Unlock()
			}
			continue
		}
		if t != nil {
			err := attempt(ctx, fmt.Sprintf("delete user %q (%s) from %s", g.identity, t.SID, r.o.Target), false, func() error {
				if err := r.dst.DeleteUser(ctx, r.o.Target, t.SID); !gone(err) {
					return err
				}
				return nil
			}, func() (bool, error) {
				_, err := r.dst.FetchUser(ctx, r.o.Target, t.SID)
				if gone(err) {
					return true, nil
				}
				return false, err
			})
			if err != nil {
				return r.stop(ctx, err)
			}
			r.update(func(res *Result) { res.Deleted++ })
		}
		if err := r.j.Put(userKey(g.identity), []byte(userDeleted)); err != nil {
			return journalErr("write", userKey(g.identity), err)
		}
	}
	r.noteUsers(notes)
	if len(doomed) == 0 || r.o.DryRun {
		return nil
	}
	return journalErr("flush", keyUser, r.j.Flush(ctx))
}

// noteUsers adds the first notes to the warnings and logs them all.
func (r *runner) noteUsers(notes []string) {
	for _, n := range notes {
		r.log.Warn(n)
	}
	if len(notes) > maxUserNotes {
		rest := len(notes) - maxUserNotes
		notes = append(notes[:maxUserNotes:maxUserNotes], fmt.Sprintf("%d more users exist in the target, were not created by this restore and differ from the archived ones; the log names them", rest))
	}
	r.update(func(res *Result) { res.Warnings = append(res.Warnings, notes...) })
}

// putUser creates u (target "") or updates target user target to u's
// fields, and returns the target user's SID. A create answered "exists" or
// whose outcome is unknown is followed by a fetch by identity: the user
// found is the one this restore marked as pending, and is updated to u's
// fields if it differs.
func (r *runner) putUser(ctx context.Context, u *srcUser, target string) (string, error) {
	p := r.userParams(u)
	for range maxAttempts {
		var t *remote.User
		var err error
		if target == "" {
			t, err = r.dst.CreateUser(ctx, r.o.Target, p)
		} else {
			t, err = r.dst.UpdateUser(ctx, r.o.Target, target, p)
		}
		if err == nil {
			return t.SID, nil
		}
		unknown := errors.Is(err, remote.ErrUnknownOutcome)
		exists := target == "" && errors.Is(err, remote.ErrConflict)
		if ctx.Err() != nil || !(unknown || exists) {
			return "", fmt.Errorf("restore user %q (source %s) into %s: %w", u.Identity, u.SID, r.o.Target, err)
		}
		// Whether the write was carried out is read back, rather than
		// written again: a sync's writes are one a change.
		t, err = r.dst.FetchUser(ctx, r.o.Target, u.Identity)
		switch {
		case err == nil && len(userDiffs(u, t, r.userRoles)) == 0:
			return t.SID, nil
		case err == nil:
			target = t.SID
		case !errors.Is(err, remote.ErrNotFound):
			return "", fmt.Errorf("look up user %q in %s: %w", u.Identity, r.o.Target, err)
		}
	}
	return "", fmt.Errorf("restore user %q (source %s) into %s: no answer after %d attempts; rerun the restore",
		u.Identity, u.SID, r.o.Target, maxAttempts)
}

// stop words an error that stops the run before or outside any channel.
func (r *runner) stop(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("restore into %s interrupted: %w", r.o.Target, ctx.Err())
	case errors.Is(err, remote.ErrAuthentication):
		return fmt.Errorf("restore into %s: the service refused the credentials; check the account SID and auth token or API key: %w", r.o.Target, err)
	}
	return err
}

// noteAPI journals that this restore writes through r.api, so that
// VerifyTarget, reading the target through either API, knows which fields
// the restore could not carry.
func (r *runner) noteAPI() error {
	if r.o.DryRun {
		return nil
	}
	k := keyAPI + r.api
	_, ok, err := r.j.Get(k)
	if err != nil || ok {
		return journalErr("read", k, err)
	}
	return journalErr("write", k, r.j.Put(k, []byte("1")))
}

// restoredThrough lists the APIs restores into this journal's target wrote
// through.
func restoredThrough(j journal) ([]string, error) {
	var apis []string
	err := j.Scan(keyAPI, func(k string, _ []byte) error {
		apis = append(apis, k[len(keyAPI):])
		return nil
	})
	return apis, journalErr("read", keyAPI, err)
}

// errUsersFailed is what a channel waiting for the users returns when
// their restore failed; the run returns the users' error itself.
var errUsersFailed = errors.New("restore: the users could not be restored")

// initUsers sets up the users' restore to start once first channels are
// ready (their targets created or found).
func (r *runner) initUsers(first int) {
	r.firstDone, r.usersDone = make(chan struct{}), make(chan struct{})
	r.waiting.Store(int64(first))
	if first == 0 {
		close(r.firstDone)
	}
}

// channelReady counts a channel as ready (each channel calls it once).
func (r *runner) channelReady() {
	if r.waiting.Add(-1) == 0 {
		close(r.firstDone)
	}
}

// users restores the users once the first channels are ready. Channel and
// user creates share the service's one bucket of writes (remote.Limits'
// ServiceWriteRate): with the users first, the channels' chains of writes
// all started after every user was created. The channels' messages need
// no user, and a channel's members wait for the users (awaitUsers), since
// adding a member makes its user when there is none.
func (r *runner) users(ctx context.Context) error {
	select {
	case <-r.firstDone:
	case <-ctx.Done():
		// The run is stopping; its error is another's.
		r.usersErr = ctx.Err()
		close(r.usersDone)
		return nil
	}
	err := r.restoreUsers(ctx)
	r.usersErr = err
	close(r.usersDone)
	return err
}

// awaitUsers waits until the users are restored.
func (r *runner) awaitUsers(ctx context.Context) error {
	select {
	case <-r.usersDone:
		if r.usersErr != nil {
			return errUsersFailed
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
