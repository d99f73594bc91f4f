package errchain

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestWalkListsDepthFirst(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), io.EOF
	joined := errors.Join(fmt.Errorf("left: %w", a), b)
	err := fmt.Errorf("top: %w", fmt.Errorf("mid: %w %w", joined, c))

	got := Walk(err)
	want := []string{
		"top: mid: left: a\nb EOF",
		"mid: left: a\nb EOF",
		"left: a\nb",
		"left: a",
		"a",
		"b",
		"EOF",
	}
	if len(got) != len(want) {
		t.Fatalf("Walk listed %d errors, want %d: %q", len(got), len(want), got)
	}
	for i, e := range got {
		if e.Error() != want[i] {
			t.Errorf("Walk()[%d] = %q, want %q", i, e.Error(), want[i])
		}
	}
	if got[4] != a || got[5] != b || got[6] != c {
		t.Error("Walk did not return the wrapped errors themselves")
	}
}

func TestWalkNil(t *testing.T) {
	if got := Walk(nil); got != nil {
		t.Errorf("Walk(nil) = %v, want nil", got)
	}
}

// loop wraps itself, as a buggy or hostile error type might.
type loop struct{ self error }

func (l *loop) Error() string { return "loop" }
func (l *loop) Unwrap() error { return l.self }

// fan wraps itself twice, so a walk without a bound would grow without end.
type fan struct{}

func (f fan) Error() string   { return "fan" }
func (f fan) Unwrap() []error { return []error{f, f} }

func TestWalkIsBoundedOnCycles(t *testing.T) {
	l := &loop{}
	l.self = l
	if got := Walk(l); len(got) != Max {
		t.Errorf("Walk of a self-wrapping error listed %d errors, want %d", len(got), Max)
	}
	if got := Walk(fan{}); len(got) != Max {
		t.Errorf("Walk of a self-joining error listed %d errors, want %d", len(got), Max)
	}
}
