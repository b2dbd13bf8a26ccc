package main

import "testing"

func TestClientBinary(t *testing.T) {
	baseBinary = "/tmp/base"
	defer func() { baseBinary = "" }()
	for _, tc := range []struct{ variant, bin, name string }{
		{"fetch-stream", "/self", "fetch-stream"},
		{"fetch-stream@base", "/tmp/base", "fetch-stream"},
		{"fetch-stream@base-again", "/tmp/base", "fetch-stream"},
	} {
		if bin, name := clientBinary("/self", tc.variant); bin != tc.bin || name != tc.name {
			t.Errorf("clientBinary(%q) = %q, %q; want %q, %q", tc.variant, bin, name, tc.bin, tc.name)
		}
	}
}

func TestSectionKeptByAFullRun(t *testing.T) {
	old := "# B\n\n## Loopback load\n\nold\n\n" + versusHeading + "\n\nfigures\n\n## Micro-benchmarks\n\nm\n"
	got := section(old, versusHeading)
	if want := versusHeading + "\n\nfigures\n\n"; got != want {
		t.Fatalf("section = %q; want %q", got, want)
	}
	fresh := "# B\n\n## Loopback load\n\nnew\n\n## Micro-benchmarks\n\nm2\n"
	if doc, want := replaceSection(fresh, versusHeading, got), "# B\n\n## Loopback load\n\nnew\n\n"+versusHeading+"\n\nfigures\n\n## Micro-benchmarks\n\nm2\n"; doc != want {
		t.Errorf("the kept section in a fresh report:\n%s\nwant\n%s", doc, want)
	}
	if got := section("# B\n", versusHeading); got != "" {
		t.Errorf("section of a doc without it = %q", got)
	}
}
