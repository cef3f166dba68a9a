package api

import "time"

// SetWriteTimeout sets the deadline of each write of a streamed response.
func SetWriteTimeout(s *Server, d time.Duration) { s.writeTimeout = d }

// ActiveStreams returns how many event streams s is serving.
func ActiveStreams(s *Server) int64 { return s.streams.Load() }
