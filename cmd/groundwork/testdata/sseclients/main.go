// Command sseclients holds many SSE streams of /v1/feed open for
// BenchmarkFeedUnderLoad, in a process of its own, so that the benchmark's
// webhook sender does not share a Go scheduler with thousands of readers.
//
// It opens -streams streams from -after, prints "open" once all are, then
// reads commands on stdin:
//
//	last SEQ             wait until every stream has received SEQ
//	commit SEQ UNIXNANO  a writer commit, and when it returned
//	end                  print "fanout COUNT P50NS P99NS MAXNS" (the delays
//	                     from each commit to its arrival on each stream) and
//	                     "cpu NS" (this process's CPU time), then exit
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type stream struct {
	mu   sync.Mutex
	got  []receipt
	last atomic.Int64
}

type receipt struct {
	seq int64
	at  int64
}

func main() {
	base := flag.String("base", "", "serve's base URL")
	token := flag.String("token", "", "bearer token")
	n := flag.Int("streams", 1000, "streams to open")
	after := flag.Int64("after", 0, "seq to stream after")
	flag.Parse()
	if err := run(*base, *token, *n, *after); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
}

func run(base, token string, n int, after int64) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}}
	streams := make([]*stream, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, err := open(client, base, token, after)
			if err != nil {
				failed.Store(fmt.Errorf("stream %d: %w", i, err))
				return
			}
			streams[i] = s
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	fmt.Println("open")
	commits := map[int64]int64{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 2 && f[0] == "last":
			seq, _ := strconv.ParseInt(f[1], 10, 64)
			deadline := time.Now().Add(2 * time.Minute)
			for _, s := range streams {
				for s.last.Load() < seq {
					if time.Now().After(deadline) {
						return fmt.Errorf("a stream is at seq %d two minutes after seq %d was committed", s.last.Load(), seq)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			fmt.Println("caught-up")
		case len(f) == 3 && f[0] == "commit":
			seq, _ := strconv.ParseInt(f[1], 10, 64)
			at, _ := strconv.ParseInt(f[2], 10, 64)
			commits[seq] = at
		case len(f) == 1 && f[0] == "end":
			var delays []int64
			for _, s := range streams {
				s.mu.Lock()
				for _, r := range s.got {
					if at, ok := commits[r.seq]; ok {
						delays = append(delays, max(0, r.at-at))
					}
				}
				s.mu.Unlock()
			}
			slices.Sort(delays)
			q := func(p float64) int64 {
				if len(delays) == 0 {
					return 0
				}
				return delays[int(p*float64(len(delays)-1))]
			}
			fmt.Println("fanout", len(delays), q(0.5), q(0.99), q(1))
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			fmt.Println("cpu", ru.Utime.Nano()+ru.Stime.Nano())
			return nil
		}
	}
	return in.Err()
}

func open(client *http.Client, base, token string, after int64) (*stream, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/feed?after="+strconv.FormatInt(after, 10), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	s := &stream{}
	go func() {
		defer resp.Body.Close()
		r := bufio.NewReaderSize(resp.Body, 8<<10)
		for {
			line, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				return
			}
			if rest, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
				seq, _ := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
				at := time.Now().UnixNano()
				s.mu.Lock()
				s.got = append(s.got, receipt{seq, at})
				s.mu.Unlock()
				s.last.Store(seq)
			}
		}
	}()
	return s, nil
}
