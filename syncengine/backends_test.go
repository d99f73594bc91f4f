package syncengine_test

// backends lists the CRMs the scenario tests run against: the in-memory
// driver and every emulator that has landed.
func backends() []backend {
	return []backend{memcrmBackend, salesforceBackend, hubspotBackend, dynamicsBackend}
}
