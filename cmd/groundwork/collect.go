package main

import (
	"context"
)

func (e *env) collectCmd(ctx context.Context, args []string) error { return nil }
func (e *env) demoCmd(ctx context.Context, args []string) error    { return nil }
