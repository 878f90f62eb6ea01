package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/story.golden from the current output")

// The story is deterministic (fixed clock, sequential IDs), so its whole
// output is the test: the change event's diff, as JetStream and the
// webhook got it, and the relay's stats. Run with -update after an
// intended change.
func TestStoryTellsTheSameStory(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, ""))
	golden := filepath.Join("testdata", "story.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())
}

// Against a server named by -nats, run twice: the second run publishes
// the same event IDs again, the stream's duplicate window drops them, and
// both runs read back the same events.
func TestStoryRunsTwiceAgainstAServerNamedByNats(t *testing.T) {
	srv, err := startEmbedded()
	require.NoError(t, err)
	t.Cleanup(srv.stop)
	want, err := os.ReadFile(filepath.Join("testdata", "story.golden"))
	require.NoError(t, err)
	var last string
	for range 2 {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, srv.ClientURL()))
		require.Equal(t, string(want), out.String())
		last = out.String()
	}

	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(t.Context(), streamName)
	require.NoError(t, err)
	info, err := st.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(delivered(t, last)), info.State.Msgs, "the stream holds each event once")
}

// delivered returns the count on the output's "relay ... delivered N" line.
func delivered(t *testing.T, out string) int {
	t.Helper()
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "relay" && f[len(f)-2] == "delivered" {
			n, err := strconv.Atoi(f[len(f)-1])
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no relay line in:\n%s", out)
	return 0
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		url     string
		wantErr string
	}{
		{name: "NoFlagsStartsAnEmbeddedServer"},
		{name: "NatsNamesAServer", args: []string{"-nats", "nats://127.0.0.1:4222"}, url: "nats://127.0.0.1:4222"},
		{name: "ANatsURLWithoutSchemeIsRefusedNamingTheFlag", args: []string{"-nats", "127.0.0.1:4222"}, wantErr: `-nats "127.0.0.1:4222"`},
		{name: "AnHTTPURLIsRefusedNamingTheFlag", args: []string{"-nats", "http://x"}, wantErr: "-nats"},
		{name: "NatsWithoutAValueNamesTheFlag", args: []string{"-nats"}, wantErr: "flag needs an argument: -nats"},
		{name: "AnUnknownFlagIsNamed", args: []string{"-stream", "x"}, wantErr: "-stream"},
		{name: "AnArgumentIsRefused", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.url, url)
		})
	}
	var usage bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &usage)
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Contains(t, usage.String(), "-nats URL")
}

func TestAServerNobodyRunsIsAnErrorNamingTheFlag(t *testing.T) {
	err := run(context.Background(), io.Discard, "nats://127.0.0.1:1")
	require.ErrorContains(t, err, "-nats nats://127.0.0.1:1")
}
