// Package storecheck holds the input checks, the time rule and the encoding
// of link hashes that crmkit's Store implementations share, so that the
// memory, SQLite and PostgreSQL stores reject the same bad input with the
// same words and keep times and hashes alike.
package storecheck

import (
	"fmt"
	"time"

	"github.com/crmkit/crmkit/syncengine"
)

// Side reports an error unless side is syncengine.App or syncengine.CRM.
func Side(what string, side syncengine.Side) error {
	if side != syncengine.App && side != syncengine.CRM {
		return fmt.Errorf("%s: side is %v; use syncengine.App or syncengine.CRM", what, side)
	}
	return nil
}

// Query reports an error for an OutboxQuery no store can answer.
func Query(q syncengine.OutboxQuery) error {
	if q.Target != 0 {
		if err := Side("OutboxQuery.Target", q.Target); err != nil {
			return fmt.Errorf("%w (or leave it zero for both sides)", err)
		}
	}
	return nil
}

// Lease reports an error for a lease request no store can grant.
func Lease(owner string, ttl time.Duration) error {
	if owner == "" {
		return fmt.Errorf("lease owner is empty; name the worker that takes the lease (such as host name and process id)")
	}
	if ttl <= 0 {
		return fmt.Errorf("lease ttl for owner %q is %v; give a positive duration, longer than one sync step", owner, ttl)
	}
	return nil
}

// LeaseRelease reports an error for a release no store can perform.
func LeaseRelease(owner string) error {
	if owner == "" {
		return fmt.Errorf("lease owner is empty; name the worker that holds the lease")
	}
	return nil
}

// Changeset reports the first part of c that no store can apply: a nil
// element, a link without both ids, an entry with an unknown side or
// operation. It does not look at the store, so it runs before any lock is
// taken; ids that do not exist are the store's to report, as ErrNotFound.
func Changeset(c *syncengine.Changeset) error {
	if c == nil {
		return nil
	}
	for side := range c.Cursors {
		if err := Side("Changeset.Cursors", side); err != nil {
			return err
		}
	}
	for i, l := range c.Links {
		if l == nil {
			return fmt.Errorf("Changeset.Links[%d] is nil; remove it or give the link", i)
		}
		if l.AppID == "" || l.CRMID == "" {
			return fmt.Errorf("Changeset.Links[%d] (app id %q, CRM id %q) lacks an id; a link pairs an application id with a CRM id, both non-empty", i, l.AppID, l.CRMID)
		}
	}
	for i, l := range c.RemoveLinks {
		if l == nil {
			return fmt.Errorf("Changeset.RemoveLinks[%d] is nil; remove it or give the link", i)
		}
		if l.AppID == "" && l.CRMID == "" {
			return fmt.Errorf("Changeset.RemoveLinks[%d] has neither an app id nor a CRM id; give at least one to say which link to remove", i)
		}
	}
	for i, e := range c.Update {
		if e == nil {
			return fmt.Errorf("Changeset.Update[%d] is nil; remove it or give the entry", i)
		}
	}
	for i, e := range c.Enqueue {
		if e == nil {
			return fmt.Errorf("Changeset.Enqueue[%d] is nil; remove it or give the entry", i)
		}
		if err := Side(fmt.Sprintf("Changeset.Enqueue[%d].Target", i), e.Target); err != nil {
			return err
		}
		switch e.Op {
		case syncengine.Upsert, syncengine.Update, syncengine.Delete:
		default:
			return fmt.Errorf("Changeset.Enqueue[%d].Op is %d; use syncengine.Upsert, Update or Delete", i, e.Op)
		}
	}
	for i, d := range c.Decisions {
		if d == nil {
			return fmt.Errorf("Changeset.Decisions[%d] is nil; remove it or give the record", i)
		}
	}
	for i, p := range c.Park {
		if p == nil {
			return fmt.Errorf("Changeset.Park[%d] is nil; remove it or give the conflict", i)
		}
	}
	return nil
}

// Time is the form in which crmkit's stores keep a time: in UTC, truncated
// to the microsecond (the precision of the SQLite store's integer columns),
// without a monotonic clock reading. The memory store applies it too, so
// that code tested against memory sees what it will see against SQLite.
func Time(t time.Time) time.Time {
	return t.Truncate(time.Microsecond).UTC()
}
