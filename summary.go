package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/chatvault/chatvault/backup"
	"github.com/chatvault/chatvault/restore"
)

// reason is one cause of a partial run: what happened, how often, to
// what, and the one thing to do about it.
type reason struct {
	what  string   // "3 media messages skipped"
	where []string // channels, in first-seen order
	next  string
}

// partialRun is errPartial with the reasons why: main prints its text once,
// as the summary of the run. It is one line, as every error chatvault
// prints is, with the reasons numbered: "… is partial: (1) …; next: …
// (2) …; next: …".
type partialRun struct{ text string }

func (p *partialRun) Error() string { return p.text }
func (p *partialRun) Unwrap() error { return errPartial }

// partialError summarises reasons under title; errPartial when there are none.
func partialError(title string, reasons []reason) error {
	if len(reasons) == 0 {
		return errPartial
	}
	var b strings.Builder
	b.WriteString(title)
	b.WriteString(" is partial:")
	for i, r := range reasons {
		fmt.Fprintf(&b, " (%d) %s", i+1, r.what)
		if len(r.where) > 0 {
			fmt.Fprintf(&b, " (%s)", listSome(r.where, 4))
		}
		fmt.Fprintf(&b, "; next: %s.", r.next)
	}
	return &partialRun{b.String()}
}

// listSome joins the first n items and says how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// tally groups items by key, remembering for each the channels involved.
type tally struct {
	keys  []string
	count map[string]int
	where map[string][]string
}

func (t *tally) add(key, channel string) {
	if t.count == nil {
		t.count, t.where = map[string]int{}, map[string][]string{}
	}
	if t.count[key] == 0 {
		t.keys = append(t.keys, key)
	}
	t.count[key]++
	if channel != "" && !slices.Contains(t.where[key], channel) {
		t.where[key] = append(t.where[key], channel)
	}
}

// cause is a kind of failure a user can act on: what it is, what to do
// once the run has ended, and what chatvault does while it retries.
type cause struct {
	what, next, waiting string
}

var (
	causeUnreachable = cause{"the service could not be reached (connection refused or no such host)",
		"check --base-url and that the service is up, then rerun",
		"no answer at --base-url (connection refused or no such host); is the service, or chatvault emulate, running?"}
	causeRateLimited = cause{"rate limited by the service",
		"rerun later, or with a lower --concurrency",
		"rate limited (429): the service asked to slow down and chatvault waits as asked; a lower --concurrency avoids it"}
	causeTimeout = cause{"the service did not answer in time",
		"rerun; raise --timeout if the service is slow",
		"no answer within --timeout: the service is slow or stalled; raise --timeout if it is just slow"}
	causeNotFound = cause{"not found in the service",
		"check the channel SID or unique name (chatvault ls lists the archived ones)",
		"the service answered not found"}
	causeUnknownOutcome = cause{"a write whose answer was lost",
		"rerun: the restore journal finds what the service did",
		"the answer to a write was lost"}
	causeServer = cause{"the service failed (5xx)",
		"rerun later",
		"the service answered with an error (5xx); chatvault keeps retrying"}
	causeArchive = cause{"the archive is damaged",
		"run chatvault verify to list the damage, then chatvault repair",
		"the archive is damaged"}
	causeOther = cause{"other errors",
		"rerun; --json lists each error in full",
		"the request failed; --json gives the error in full once the run ends"}
)

// The paths of the Media Content Service and of Conversations in a
// (lower-cased) error message: a channel's unique name in a Chat path
// ("media-team") must not match.
var (
	mediaPath = regexp.MustCompile(`/v1/services/is[0-9a-f]{32}/media\b`)
	convPath  = regexp.MustCompile(`/v1/services/is[0-9a-f]{32}\b`) // after mediaPath: Media is under /v1 too
)

// unreachable is causeUnreachable naming the root the failed request
// went to: the media and Conversations roots are flags of their own, and a
// rehearsal that sets only --base-url sends those requests to Twilio.
func unreachable(m string) cause {
	var flag string
	switch {
	case mediaPath.MatchString(m) || strings.Contains(m, "lookup mcs."):
		flag = "--media-url"
	case convPath.MatchString(m) || strings.Contains(m, "lookup conversations."):
		flag = "--conversations-url"
	default:
		return causeUnreachable
	}
	c := causeUnreachable
	c.next = strings.ReplaceAll(c.next, "--base-url", flag)
	c.waiting = strings.ReplaceAll(c.waiting, "--base-url", flag)
	return c
}

// classify sorts an error message into a cause. A refused connection is
// not a rate limit: each gets its own words.
func classify(msg string) cause {
	m := strings.ToLower(msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("corrupt", "checksum mismatch"):
		return causeArchive
	case has("connection refused", "no such host", "network is unreachable", "connection reset"):
		return unreachable(m)
	case has("429", "rate limit", "too many requests"):
		return causeRateLimited
	case has("timeout", "deadline exceeded"):
		return causeTimeout
	case has("does not exist", "404", "not found"):
		return causeNotFound
	case has("outcome is unknown", "unknown outcome"):
		return causeUnknownOutcome
	case has(" 500", " 502", " 503", " 504", "server error"):
		return causeServer
	}
	return causeOther
}

// failureReasons groups failed channels by cause.
func failureReasons(failures map[string]string, order []string) []reason {
	var t tally
	nexts := map[string]string{}
	for _, ch := range order {
		c := classify(failures[ch])
		nexts[c.what] = c.next
		t.add(c.what, ch)
	}
	var out []reason
	for _, what := range t.keys {
		out = append(out, reason{what: fmt.Sprintf("%s failed: %s", plural(t.count[what], "channel"), what), where: t.where[what], next: nexts[what]})
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// restoreReasons says why a restore ended partial.
func restoreReasons(res restore.Result) []reason {
	var out []reason
	var skips tally
	for _, s := range res.Skipped {
		skips.add(s.Kind, s.Channel)
	}
	for _, kind := range skips.keys {
		r := reason{where: skips.where[kind]}
		n := skips.count[kind]
		switch kind {
		case restore.SkipMedia:
			r.what = fmt.Sprintf("%s skipped: their files are not in the archive, nor their media in the target service", plural(n, "media message"))
			r.next = "back the source up again with --full (without --no-media) to archive the files, or restore into the source service " +
				"while their media exist there; --json lists each with its reason"
		case restore.SkipBehind:
			r.what = fmt.Sprintf("%s skipped: older than what an earlier run restored into the channel", plural(n, "message"))
			r.next = "restore into a new, empty target to keep every message in order; --json lists each"
		case restore.SkipParticipant:
			r.what = fmt.Sprintf("%s skipped: no identity (an SMS or WhatsApp address); adding one would send the channel's next messages to it",
				plural(n, "participant"))
			r.next = "add them by hand if the conversation should reach them again; --json lists each"
		default:
			r.what = fmt.Sprintf("%s skipped (%s)", plural(n, "message"), kind)
			r.next = "--json lists each with its reason"
		}
		out = append(out, r)
	}
	if len(res.Conflicts) > 0 {
		var where []string
		for _, c := range res.Conflicts {
			name := c.Channel
			if c.UniqueName != "" {
				name = c.UniqueName
			}
			where = append(where, name+": "+c.Reason)
		}
		out = append(out, reason{what: plural(len(res.Conflicts), "channel") + " in conflict", where: where,
			next: "leave them out with --channel, or rename or delete them in the target, then rerun"})
	}
	failures, order := map[string]string{}, []string{}
	for _, f := range res.Failed {
		name := f.Channel
		if f.UniqueName != "" {
			name = f.UniqueName
		}
		failures[name] = f.Error
		order = append(order, name)
	}
	return append(out, failureReasons(failures, order)...)
}

// backupReasons says why a backup ended partial.
func backupReasons(res backup.Result) []reason {
	failures, order := map[string]string{}, []string{}
	for _, f := range res.Failures {
		name := f.Channel
		if name == "" {
			name = "the service's listings"
		}
		failures[name] = f.Error
		order = append(order, name)
	}
	return failureReasons(failures, order)
}
