package ratelimit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm/ratelimit"
)

func TestParseSalesforceLimitInfo(t *testing.T) {
	tests := []struct {
		header    string
		used, max int64
	}{
		{"api-usage=18/5000", 18, 5000},
		{"api-usage=0/15000", 0, 15000},
		{" api-usage = 18/5000 ", 18, 5000},
		{"api-usage=18/5000, per-app-api-usage=17/250(appName=sample-connected-app)", 18, 5000},
		{"per-app-api-usage=17/250(appName=sample-connected-app), api-usage=18/5000", 18, 5000},
		{"api-usage=18/5000; api-bursts=1/750", 18, 5000},
		{"api-usage=18/5000; per-app-api-usage=17/250(appName=a,b)", 18, 5000},
		{"api-usage=5012/5000", 5012, 5000}, // the allocation is soft: use may run over
		{"api-usage=99999999999/100000000000", 99999999999, 100000000000},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			o, err := ratelimit.ParseSalesforceLimitInfo(tt.header)
			if err != nil {
				t.Fatal(err)
			}
			want := ratelimit.Observation{DailyUsed: tt.used, DailyLimit: tt.max}
			if o != want {
				t.Errorf("got %+v, want %+v", o, want)
			}
		})
	}
}

func TestParseSalesforceLimitInfoErrors(t *testing.T) {
	tests := []struct{ header, problem string }{
		{"", "no api-usage"},
		{"per-app-api-usage=17/250(appName=x)", "no api-usage"},
		{"api-bursts=1/750", "no api-usage"},
		{"api-usage", "no api-usage"},
		{"api-usage=18", "not used/max"},
		{"api-usage=x/5000", "used count"},
		{"api-usage=-1/5000", "used count"},
		{"api-usage=18/", "maximum"},
		{"api-usage=18/0", "maximum"},
		{"api-usage=18/-5", "maximum"},
		{"api-usage=18/5000/3", "maximum"},
		{"api-usage=18 /5000", "used count"},
		{"api-usage=99999999999999999999/5000", "used count"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			o, err := ratelimit.ParseSalesforceLimitInfo(tt.header)
			if err == nil {
				t.Fatalf("no error; got %+v", o)
			}
			msg := err.Error()
			for _, want := range []string{"Sforce-Limit-Info", fmt.Sprintf("%q", tt.header), tt.problem} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if o != (ratelimit.Observation{}) {
				t.Errorf("an error came with figures %+v", o)
			}
		})
	}
	long := "x=" + strings.Repeat("9", 10000)
	_, err := ratelimit.ParseSalesforceLimitInfo(long)
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("error for a 10kB header is %d bytes, want it cut short", len(err.Error()))
	}
}

func FuzzParseSalesforceLimitInfo(f *testing.F) {
	for _, s := range []string{
		"api-usage=18/5000", "api-usage=18/5000, per-app-api-usage=17/250(appName=x)",
		"api-usage=18/5000; api-bursts=1/750", "api-usage=1/0", "api-usage=", "=,;", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		o, err := ratelimit.ParseSalesforceLimitInfo(header)
		if err != nil {
			if !strings.Contains(err.Error(), "Sforce-Limit-Info") {
				t.Errorf("error %q does not name the header", err)
			}
			return
		}
		if o.DailyLimit <= 0 || o.DailyUsed < 0 {
			t.Fatalf("ParseSalesforceLimitInfo(%q) = %+v: want used >= 0 and max > 0", header, o)
		}
		if o.Remaining != 0 || o.Limit != 0 || o.Window != 0 || o.RetryAfter != 0 {
			t.Fatalf("ParseSalesforceLimitInfo(%q) = %+v: set fields other than the daily ones", header, o)
		}
		// The figures survive a round trip through the header's format.
		again, err := ratelimit.ParseSalesforceLimitInfo(fmt.Sprintf("api-usage=%d/%d", o.DailyUsed, o.DailyLimit))
		if err != nil || again != o {
			t.Fatalf("round trip of %+v: %+v, %v", o, again, err)
		}
	})
}
