package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"
	"time"

	"github.com/crmkit/crmkit/dedupe"
)

const dedupeUsage = `usage:
  crmkit dedupe --in FILE.csv --out FILE --id COLUMN --field KIND=COLUMN [--field KIND=COLUMN ...]
                [--format csv|jsonl] [--pairs FILE] [--region CN] [--threshold BITS]
                [--match-probability P] [--coherence BITS] [--max-cluster-size N] [--skip-bad-rows]

KIND is one of: name, given_name, family_name, company, phone, email, address, street,
city, postcode, state, date, national_id, text. A kind may be given for several columns.

--format csv (the default): --out has the header id,cluster_id and one row per input row;
rows in the same cluster share a cluster_id (the id of the cluster's first row).
--format jsonl: --out has one JSON object per cluster, singletons included, in the order
of their first rows:
  {"cluster_id":"c1","size":2,"ids":["c1","c2"],"lines":[2,3]}
(lines are the rows' line numbers in the input file).

--pairs FILE writes every matched and possible pair, ordered by their lines. As CSV, the header
  left_line,right_line,left_id,right_id,score,decision,same_cluster,reasons
with decision match or possible, same_cluster true when the run put the two rows in one
cluster (a match may be refused by the size cap or for incoherence) and reasons one string,
one FIELD=LEVEL(WEIGHT) per field, e.g. "name=exact(+8.1); phone=different(-4.0); email=missing(+0.0)"
(LEVEL: exact, close, partial, different, missing; WEIGHT in bits). As JSON Lines, one object a pair:
  {"left_line":2,"right_line":3,"left_id":"c1","right_id":"c2","score":21.4,"probability":0.99,
   "decision":"match","same_cluster":true,"reasons":[{"field":"name","kind":"name",
   "level":"exact","weight":8.1,"note":"..."}]}
(note only when the weight was not counted as the field alone). Listing the pairs scores
the candidate pairs a second time.`

// fieldFlags collects repeated --field KIND=COLUMN flags.
type fieldFlags []dedupe.Field

func (f *fieldFlags) String() string {
	parts := make([]string, len(*f))
	for i, x := range *f {
		parts[i] = string(x.Kind) + "=" + x.Name
	}
	return strings.Join(parts, ",")
}

func (f *fieldFlags) Set(s string) error {
	kind, col, ok := strings.Cut(s, "=")
	kind, col = strings.TrimSpace(kind), strings.TrimSpace(col)
	if !ok || col == "" {
		return fmt.Errorf("want KIND=COLUMN, got %q", s)
	}
	k := dedupe.Kind(strings.ToLower(kind))
	if !k.Valid() {
		names := make([]string, 0, 14)
		for _, x := range dedupe.Kinds() {
			names = append(names, string(x))
		}
		return fmt.Errorf("unknown kind %q (kinds: %s)", kind, strings.Join(names, ", "))
	}
	*f = append(*f, dedupe.Field{Name: col, Kind: k})
	return nil
}

// runDedupe runs "crmkit dedupe".
func runDedupe(args []string, _ io.Writer, stderr io.Writer) error {
	fs := flag.NewFlagSet("dedupe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, dedupeUsage); fs.PrintDefaults() }
	in := fs.String("in", "", "input CSV file with a header row")
	out := fs.String("out", "", "output file: the clusters (see --format)")
	format := fs.String("format", "csv", "output format of --out and --pairs: csv or jsonl")
	pairsOut := fs.String("pairs", "", "also write every matched and possible pair with its score and per-field reasons to this file")
	idCol := fs.String("id", "", "ID column")
	var fields fieldFlags
	fs.Var(&fields, "field", "KIND=COLUMN, repeatable: a column to match on and its kind")
	region := fs.String("region", "CN", "country assumed for phone numbers without a country code")
	threshold := fs.Float64("threshold", 0, "match weight in bits from which two rows are duplicates (default 10)")
	maxCluster := fs.Int("max-cluster-size", 0, "largest cluster allowed (default 50)")
	matchProb := fs.Float64("match-probability", 0, "match probability from which two rows are linked, given the share of matching pairs learnt from the file (default 0.5)")
	coherence := fs.Float64("coherence", 0, "mean score in bits the rows of two clusters must reach with each other to join (default 6)")
	skipBad := fs.Bool("skip-bad-rows", false, "skip rows that are not valid CSV or have the wrong number of cells, reporting each on stderr")
	enc := encodingFlag(fs)
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if done, err := parseFlags(fs, args, "dedupe"); done {
		return err
	}
	switch {
	case *in == "":
		return usageError{"dedupe: --in is required\n" + dedupeUsage}
	case *out == "":
		return usageError{"dedupe: --out is required\n" + dedupeUsage}
	case *idCol == "":
		return usageError{"dedupe: --id is required\n" + dedupeUsage}
	case len(fields) == 0:
		return usageError{"dedupe: at least one --field KIND=COLUMN is required\n" + dedupeUsage}
	case math.IsNaN(*threshold) || *threshold < 0 || *threshold > 100:
		return usageError{fmt.Sprintf("dedupe: --threshold %v: want a match weight between 0 and 100 bits (0: the default, 10)", *threshold)}
	case *maxCluster != 0 && (*maxCluster < 2 || *maxCluster > 1_000_000):
		return usageError{fmt.Sprintf("dedupe: --max-cluster-size %d: want 2 to 1000000 (0: the default, 50)", *maxCluster)}
	case *matchProb < 0 || *matchProb >= 1 || math.IsNaN(*matchProb):
		return usageError{fmt.Sprintf("dedupe: --match-probability %v: want a probability between 0 and 1", *matchProb)}
	case math.IsNaN(*coherence) || math.IsInf(*coherence, 0):
		return usageError{fmt.Sprintf("dedupe: --coherence %v: want a finite number of bits", *coherence)}
	case *format != "csv" && *format != "jsonl":
		return usageError{fmt.Sprintf("dedupe: --format %q: want csv or jsonl", *format)}
	case *pairsOut != "" && sameFile(*in, *pairsOut):
		return usageError{fmt.Sprintf("dedupe: --pairs %s is the input file; write the pairs to another file", *pairsOut)}
	case *pairsOut != "" && sameFile(*out, *pairsOut):
		return usageError{fmt.Sprintf("dedupe: --pairs %s is the --out file; write the pairs to another file", *pairsOut)}
	case sameFile(*in, *out):
		// The output replaces its file, so the input would be lost.
		return usageError{fmt.Sprintf("dedupe: --out %s is the input file; write the clusters to another file", *out)}
	}
	cfg := &dedupe.Config{Fields: fields, Region: *region, MatchWeight: *threshold}
	if *threshold != 0 {
		cfg.PossibleWeight = *threshold - 6
	}
	m, err := dedupe.NewMatcher(cfg)
	if err != nil {
		return usageError{err.Error()}
	}

	if err := checkEncoding("dedupe", *enc); err != nil {
		return err
	}
	src, err := openCSV(*in, *enc)
	if err != nil {
		return err
	}
	defer src.Close()
	idIdx, err := src.Column(*idCol)
	if err != nil {
		return err
	}
	cols := make([]int, len(fields))
	for i, f := range fields {
		if cols[i], err = src.Column(f.Name); err != nil {
			return err
		}
	}
	prog := newProgressPrinter(stderr, *quiet)
	var firstErr error
	var lines []int
	// records streams the rows of src as records; the first pass reports
	// skipped rows and keeps each record's line.
	records := func(src *csvInput, first bool) iter.Seq2[dedupe.Record, error] {
		return func(yield func(dedupe.Record, error) bool) {
			for {
				rec, line, err := src.Next()
				if errors.Is(err, io.EOF) {
					return
				}
				var bad *badRowError
				if errors.As(err, &bad) && *skipBad {
					if first {
						fmt.Fprintln(stderr, "skipped:", bad)
					}
					continue
				}
				if err != nil {
					firstErr = err
					yield(dedupe.Record{}, err)
					return
				}
				vals := make([]string, len(cols))
				for i, c := range cols {
					vals[i] = rec[c]
				}
				if first {
					lines = append(lines, line)
				}
				if !yield(dedupe.Record{ID: rec[idIdx], Values: vals}, nil) {
					return
				}
			}
		}
	}
	opts := &dedupe.ClusterOptions{MaxClusterSize: *maxCluster, MatchProbability: *matchProb,
		Coherence: *coherence, Progress: prog.report}
	res, err := m.Cluster(records(src, true), opts)
	if firstErr != nil {
		return fmt.Errorf("%w (use --skip-bad-rows to skip such rows)", firstErr)
	}
	if err != nil {
		return err
	}
	var matched, possible int
	if *pairsOut != "" {
		// Score the pairs before writing anything, so a failed run
		// leaves no output.
		again, err := openCSV(*in, *enc)
		if err != nil {
			return err
		}
		defer again.Close()
		if !*quiet {
			fmt.Fprintln(stderr, "dedupe: scoring the candidate pairs again for --pairs")
		}
		err = writeFileAtomic(*pairsOut, func(w io.Writer) error {
			pw := newPairWriter(w, *format, res, lines)
			err := res.ScoredPairs(records(again, false), opts, func(p dedupe.ScoredPair) error {
				if p.Decision.Class == dedupe.Match {
					matched++
				} else {
					possible++
				}
				return pw.write(p)
			})
			if err != nil {
				return err
			}
			return pw.flush()
		})
		if firstErr != nil {
			return fmt.Errorf("%w (the file changed while it was read)", firstErr)
		}
		if err != nil {
			return fmt.Errorf("dedupe: --pairs %s: %w", *pairsOut, err)
		}
	}
	err = writeFileAtomic(*out, func(w io.Writer) error {
		if *format == "jsonl" {
			return writeClustersJSONL(w, res, lines)
		}
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"id", "cluster_id"}); err != nil {
			return err
		}
		for i, id := range res.IDs {
			if err := cw.Write([]string{id, res.ClusterID(i)}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("dedupe: write %s: %w", *out, err)
	}
	s := res.Stats
	if !*quiet {
		fmt.Fprintf(stderr, "dedupe: %d rows, %d clusters, %d candidate pairs, %d matched pairs (linked from %.1f bits), %d links refused by the cluster size cap or for incoherence\n",
			s.Records, s.Clusters, s.CandidatePairs, s.MatchedPairs, s.LinkWeight, s.RefusedLinks)
		if *pairsOut != "" {
			fmt.Fprintf(stderr, "dedupe: %d matched and %d possible pairs, with their reasons, written to %s\n", matched, possible, *pairsOut)
		} else {
			fmt.Fprintln(stderr, "dedupe: --pairs FILE lists the matched and possible pairs with their scores and reasons")
		}
	}
	return nil
}

// progressPrinter writes progress to stderr at most every two seconds.
type progressPrinter struct {
	w     io.Writer
	quiet bool
	last  time.Time
	stage string
}

func newProgressPrinter(w io.Writer, quiet bool) *progressPrinter {
	return &progressPrinter{w: w, quiet: quiet, last: time.Now()}
}

func (p *progressPrinter) report(pr dedupe.Progress) {
	if p.quiet {
		return
	}
	now := time.Now()
	finished := pr.Total > 0 && pr.Done >= pr.Total
	if now.Sub(p.last) < 2*time.Second && !(finished && pr.Stage != p.stage && pr.Total > 100000) {
		return
	}
	p.last, p.stage = now, pr.Stage
	if pr.Total > 0 {
		fmt.Fprintf(p.w, "dedupe: %s %d/%d\n", pr.Stage, pr.Done, pr.Total)
	} else {
		fmt.Fprintf(p.w, "dedupe: %s %d\n", pr.Stage, pr.Done)
	}
}
