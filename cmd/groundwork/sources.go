package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/generic"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/prometheus"
	"github.com/groundwork-dev/groundwork/collectors/slack"
)

// sourceList is the list of sources, in the order their collectors are
// registered and their sections printed. A source is one folder,
// collectors/<name>, exporting one collectors.Source; listing it here is all
// the wiring it needs: its sources.<name> section is decoded, defaulted,
// validated and printed (secrets redacted), its collector runs when it is
// enabled, its receivers are mounted at POST /webhooks/{receiver}, and its
// live events are journaled, with heartbeats vouching for its capture
// (journal.go).
var sourceList = []collectors.Source{
	pagerduty.Source,
	github.Source,
	slack.Source,
	generic.Source,
	prometheus.Source,
}

// defaultPlugins returns every listed source's default config.
func defaultPlugins() map[string]collectors.Config {
	out := make(map[string]collectors.Config, len(sourceList))
	for _, src := range sourceList {
		out[src.Name] = src.NewConfig()
	}
	return out
}

// takePluginSections removes the sections of listed sources from the
// sources: mapping of doc and returns them by name, so that the typed
// decoding of the rest never sees them.
func takePluginSections(doc *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if doc.Kind != yaml.MappingNode {
		return out
	}
	listed := map[string]bool{}
	for _, src := range sourceList {
		listed[src.Name] = true
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "sources" || doc.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[i+1]
		var rest []*yaml.Node
		for j := 0; j+1 < len(m.Content); j += 2 {
			if name := m.Content[j].Value; listed[name] {
				out[name] = m.Content[j+1]
				continue
			}
			rest = append(rest, m.Content[j], m.Content[j+1])
		}
		m.Content = rest
	}
	return out
}

// decodePlugins decodes each taken section over its source's defaults,
// refusing unknown keys and values their fields cannot hold by their full
// path; raw holds the values that referred to the environment, as written
// (see recordRaw).
func decodePlugins(into map[string]collectors.Config, sections map[string]*yaml.Node, raw map[*yaml.Node]string) error {
	for _, src := range sourceList {
		n, ok := sections[src.Name]
		if !ok || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			continue
		}
		key := "sources." + src.Name
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping of settings", key)
		}
		cfg := into[src.Name]
		if err := checkKeys(n, reflect.TypeOf(cfg), key); err != nil {
			return err
		}
		if err := checkScalars(n, reflect.TypeOf(cfg), key, raw); err != nil {
			return err
		}
		if err := n.Decode(cfg); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

// validatePlugins validates every listed source's config, naming each
// problem's key under sources.<name>.
func validatePlugins(cfgs map[string]collectors.Config) error {
	var errs []error
	for _, src := range sourceList {
		cfg, ok := cfgs[src.Name]
		if !ok {
			continue
		}
		err := cfg.Validate()
		if err == nil {
			continue
		}
		var list []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		} else {
			list = []error{err}
		}
		for _, e := range list {
			if strings.HasPrefix(e.Error(), "sources."+src.Name+".") {
				errs = append(errs, e)
				continue
			}
			errs = append(errs, fmt.Errorf("sources.%s.%w", src.Name, e))
		}
	}
	return errors.Join(errs...)
}

// MarshalYAML prints each listed source's section, in the list's order,
// whose Secret fields print as [REDACTED].
func (s SourcesConfig) MarshalYAML() (any, error) {
	n := yaml.Node{Kind: yaml.MappingNode}
	for _, src := range sourceList {
		cfg, ok := s.Plugins[src.Name]
		if !ok {
			continue
		}
		var v yaml.Node
		if err := v.Encode(cfg); err != nil {
			return nil, fmt.Errorf("sources.%s: %w", src.Name, err)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: src.Name}, &v)
	}
	return &n, nil
}

// pluginReceivers returns the webhook receivers of every listed source,
// enabled or not (an unconfigured receiver says so to its sender).
func pluginReceivers(cfg Config, reg *collectors.Registry, log *zap.Logger) []collectors.WebhookReceiver {
	var out []collectors.WebhookReceiver
	for _, src := range sourceList {
		if src.Receivers == nil {
			continue
		}
		c, _ := reg.Get(src.Name)
		out = append(out, src.Receivers(cfg.Sources.Plugins[src.Name], c, collectors.ClientOptions{Logger: log.Named(src.Name)})...)
	}
	return out
}

// collectorSections names the sections of the listed sources that have a
// collector.
func collectorSections() []string {
	var out []string
	for _, src := range sourceList {
		if src.New != nil {
			out = append(out, "sources."+src.Name)
		}
	}
	return out
}

// pluginNames lists the listed sources' names.
func pluginNames() []string {
	var out []string
	for _, src := range sourceList {
		out = append(out, src.Name)
	}
	return out
}
