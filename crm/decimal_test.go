package crm

import (
	"encoding/json"
	"math/big"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in, want string
		scale    int32
	}{
		{"0", "0", 0},
		{"12.50", "12.50", 2},
		{"-12.50", "-12.50", 2},
		{"+7", "7", 0},
		{".5", "0.5", 1},
		{"5.", "5", 0},
		{"-0.003", "-0.003", 3},
		{"1e3", "1000", 0},
		{"4.2E-2", "0.042", 3},
		{"123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789", 9},
	}
	for _, tt := range tests {
		d, err := ParseDecimal(tt.in)
		if err != nil {
			t.Fatalf("ParseDecimal(%q): %v", tt.in, err)
		}
		if d.String() != tt.want || d.Scale() != tt.scale {
			t.Errorf("ParseDecimal(%q) = %s (scale %d), want %s (scale %d)", tt.in, d, d.Scale(), tt.want, tt.scale)
		}
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "NaN", "Inf", "0x10", "1e", "1e99999999999", "12,5", " 1", "1_000"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) succeeded, want an error", bad)
		}
	}
}

func TestDecimalExactArithmeticOfTheClassicCase(t *testing.T) {
	// 0.1 + 0.2 must be exactly 0.3: the reason Decimal exists.
	sum := new(big.Rat).Add(MustDecimal("0.1").Rat(), MustDecimal("0.2").Rat())
	if sum.Cmp(MustDecimal("0.3").Rat()) != 0 {
		t.Fatalf("0.1 + 0.2 = %s, want exactly 0.3", sum.FloatString(20))
	}
}

func TestDecimalCompareAndRound(t *testing.T) {
	if !MustDecimal("1.5").Equal(MustDecimal("1.50")) {
		t.Error("1.5 should equal 1.50")
	}
	if MustDecimal("-2").Cmp(MustDecimal("1")) != -1 {
		t.Error("-2 should be less than 1")
	}
	for _, tt := range []struct {
		in    string
		scale int32
		want  string
	}{
		{"2.345", 2, "2.35"}, {"-2.345", 2, "-2.35"}, {"2.344", 2, "2.34"}, {"2.5", 0, "3"}, {"1.2", 3, "1.200"}, {"0.004", 2, "0.00"},
		{"1250", -2, "1300"}, {"15", -1, "20"}, {"-1249.9", -2, "-1200"}, {"44.5", -1, "40"},
	} {
		if got := MustDecimal(tt.in).Round(tt.scale).String(); got != tt.want {
			t.Errorf("Round(%s, %d) = %s, want %s", tt.in, tt.scale, got, tt.want)
		}
	}
	if n, ok := MustDecimal("42.000").Int64(); !ok || n != 42 {
		t.Errorf("Int64(42.000) = %d, %v", n, ok)
	}
	if _, ok := MustDecimal("42.5").Int64(); ok {
		t.Error("Int64(42.5) should not be a whole number")
	}
	if d := NewDecimal(12, -3); d.String() != "12000" || d.Cmp(MustDecimal("12000")) != 0 {
		t.Errorf("NewDecimal(12, -3) = %s, want 12000", d)
	}
	var zero Decimal
	if zero.String() != "0" || !zero.IsZero() {
		t.Errorf("zero Decimal = %q", zero.String())
	}
}

func TestDecimalJSON(t *testing.T) {
	var v struct{ Amount Decimal }
	if err := json.Unmarshal([]byte(`{"Amount": 19.990}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Amount.String() != "19.990" {
		t.Fatalf("Amount = %s", v.Amount)
	}
	if err := json.Unmarshal([]byte(`{"Amount": "7.10"}`), &v); err != nil || v.Amount.String() != "7.10" {
		t.Fatalf("string form: %v %s", err, v.Amount)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"Amount":7.10}` {
		t.Fatalf("Marshal = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"Amount": null}`), &v); err == nil {
		t.Fatal("null should not decode into a Decimal")
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "-12.50", "1e3", "4.2E-2", ".5", "abc", "1e-400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		// What parses must print in a form that parses back to the same value and scale.
		back, err := ParseDecimal(d.String())
		if err != nil {
			t.Fatalf("ParseDecimal(%q).String() = %q does not parse: %v", s, d.String(), err)
		}
		if !back.Equal(d) || back.Scale() != d.Scale() {
			t.Fatalf("round trip of %q: %s (scale %d) != %s (scale %d)", s, back, back.Scale(), d, d.Scale())
		}
	})
}
