package syncengine

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Counts is a number per side.
type Counts struct {
	App int
	CRM int
}

func (c *Counts) add(s Side, n int) {
	if s == App {
		c.App += n
	} else {
		c.CRM += n
	}
}

// Total is App + CRM.
func (c Counts) Total() int { return c.App + c.CRM }

// Report is what a run did. It is returned by RunOnce, passed to the
// progress callback as the run goes, and logged at its end.
type Report struct {
	Pairing  string
	Started  time.Time
	Finished time.Time

	// Read counts the changes read from each side's feed.
	Read Counts
	// Matched counts records paired on first contact (by sync key, natural
	// key or the host's function).
	Matched int
	// Created, Updated and Deleted count writes that landed, by the side
	// written to. Archived counts deletes carried out as archives.
	Created  Counts
	Updated  Counts
	Deleted  Counts
	Archived Counts
	// Echoes counts changes recognised as the echo of the engine's own
	// writes (or changes that changed no mapped field), and not synced back.
	Echoes int
	// Merged counts records both sides changed in different fields, merged
	// without a conflict.
	Merged int
	// Conflicts counts conflicts by resolution, such as "newest-wins: crm".
	Conflicts map[string]int
	// Parked counts conflicts held for review in this run; Waiting counts
	// changes skipped because their record is parked.
	Parked  int
	Waiting int
	// Retried counts failed sends scheduled again; DeadLettered counts
	// writes given up on (and records that failed mapping).
	Retried      int
	DeadLettered int
	// Deferred counts writes held back because a side's API quota is
	// spent; they are sent again once it is likely back.
	Deferred int
	// Pending is the number of writes still waiting in the outbox at the
	// end of the run (due later, after a backoff).
	Pending int
	// Calls counts the calls made to each endpoint (change pages, reads,
	// finds and write batches): Calls.CRM is the run's CRM API calls.
	Calls Counts
}

func (r *Report) conflict(key string) {
	if r.Conflicts == nil {
		r.Conflicts = map[string]int{}
	}
	r.Conflicts[key]++
}

// ConflictCount is the number of conflicts, however resolved.
func (r *Report) ConflictCount() int {
	n := 0
	for _, v := range r.Conflicts {
		n += v
	}
	return n
}

// Writes is the number of writes that landed on both sides.
func (r *Report) Writes() int {
	return r.Created.Total() + r.Updated.Total() + r.Deleted.Total() + r.Archived.Total()
}

func (r *Report) clone() Report {
	c := *r
	if r.Conflicts != nil {
		c.Conflicts = make(map[string]int, len(r.Conflicts))
		for k, v := range r.Conflicts {
			c.Conflicts[k] = v
		}
	}
	return c
}

// String renders the report in a few readable lines.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read app %d, crm %d; matched %d\n", r.Read.App, r.Read.CRM, r.Matched)
	fmt.Fprintf(&b, "to crm: created %d, updated %d, deleted %d, archived %d\n", r.Created.CRM, r.Updated.CRM, r.Deleted.CRM, r.Archived.CRM)
	fmt.Fprintf(&b, "to app: created %d, updated %d, deleted %d, archived %d\n", r.Created.App, r.Updated.App, r.Deleted.App, r.Archived.App)
	fmt.Fprintf(&b, "echoes skipped %d, merged %d, conflicts %d", r.Echoes, r.Merged, r.ConflictCount())
	if len(r.Conflicts) > 0 {
		keys := make([]string, 0, len(r.Conflicts))
		for k := range r.Conflicts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, r.Conflicts[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, ", parked %d\n", r.Parked)
	fmt.Fprintf(&b, "retried %d, dead-lettered %d, deferred %d, pending %d; calls crm %d, app %d", r.Retried, r.DeadLettered, r.Deferred, r.Pending, r.Calls.CRM, r.Calls.App)
	return b.String()
}

// LogValue lets a Report be logged with slog as a group of counts.
func (r Report) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("pairing", r.Pairing),
		slog.Int("read_app", r.Read.App), slog.Int("read_crm", r.Read.CRM),
		slog.Int("matched", r.Matched),
		slog.Int("created_app", r.Created.App), slog.Int("created_crm", r.Created.CRM),
		slog.Int("updated_app", r.Updated.App), slog.Int("updated_crm", r.Updated.CRM),
		slog.Int("deleted_app", r.Deleted.App), slog.Int("deleted_crm", r.Deleted.CRM),
		slog.Int("echoes", r.Echoes), slog.Int("merged", r.Merged), slog.Int("conflicts", r.ConflictCount()),
		slog.Int("parked", r.Parked), slog.Int("retried", r.Retried), slog.Int("dead_lettered", r.DeadLettered), slog.Int("deferred", r.Deferred),
		slog.Int("pending", r.Pending), slog.Int("calls_crm", r.Calls.CRM), slog.Int("calls_app", r.Calls.App),
		slog.Duration("took", r.Finished.Sub(r.Started)),
	)
}
