package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSalesforceLimitInfo reads Salesforce's Sforce-Limit-Info response
// header, such as "api-usage=18/5000", into an Observation's DailyUsed and
// DailyLimit. The header may hold other entries, separated by commas or
// semicolons ("api-usage=18/5000; per-app-api-usage=17/250(appName=sync)");
// only api-usage is read. Use can exceed the limit, since Salesforce's
// allocation is soft. A header without a well-formed api-usage entry gives
// an error that names the header and quotes the text.
func ParseSalesforceLimitInfo(header string) (Observation, error) {
	for entry := range strings.FieldsFuncSeq(header, func(r rune) bool { return r == ',' || r == ';' }) {
		key, value, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || strings.TrimSpace(key) != "api-usage" {
			continue
		}
		usedText, maxText, ok := strings.Cut(strings.TrimSpace(value), "/")
		if !ok {
			return Observation{}, limitInfoError(header, "api-usage is not used/max")
		}
		used, err1 := strconv.ParseInt(usedText, 10, 64)
		limit, err2 := strconv.ParseInt(maxText, 10, 64)
		switch {
		case err1 != nil || used < 0:
			return Observation{}, limitInfoError(header, "api-usage's used count is not a whole number")
		case err2 != nil || limit <= 0:
			return Observation{}, limitInfoError(header, "api-usage's maximum is not a positive whole number")
		}
		return Observation{DailyUsed: used, DailyLimit: limit}, nil
	}
	return Observation{}, limitInfoError(header, "no api-usage=used/max entry")
}

func limitInfoError(header, problem string) error {
	const maxQuoted = 120
	if len(header) > maxQuoted {
		header = header[:maxQuoted] + "..."
	}
	return fmt.Errorf("ratelimit: Sforce-Limit-Info header %q: %s (want e.g. \"api-usage=18/5000\")", header, problem)
}
