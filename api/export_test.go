package api

import "time"

// SetWriteTimeout sets the deadline of each write of a streamed response.
func SetWriteTimeout(s *Server, d time.Duration) { s.Streams.WriteTimeout = d }

// ActiveStreams returns how many event streams s is serving.
func ActiveStreams(s *Server) int64 { return s.streams.Load() }

// HeldMax returns the largest batch, in bytes, any stream of s held.
func HeldMax(s *Server) int64 { return s.heldMax.Load() }

// HubRing returns the feed hub's ring: it holds every event with
// lo < seq <= head, in frames frames of bytes bytes.
func HubRing(s *Server) (lo, head int64, frames int, bytes int64) { return s.hub().stats() }

// SetReadyClock sets the clock of readyz's cache.
func SetReadyClock(s *Server, now func() time.Time) { s.ready.nowFunc = now }
