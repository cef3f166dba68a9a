package timeline

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// storyDirectory knows what the story view shows instead of ids: one name
// per person, the names of Slack channels, and chat text with Slack's
// markup rendered.
type storyDirectory struct {
	parent map[string]string
	// names holds every name seen per identity key, for the choice of one.
	names    []storyNameSeen
	best     map[string]string // union-find root → the person's name
	channels map[string]string // Slack channel id → name
	// renames maps a Slack display name to the person's one name where
	// they differ, for mentions the collector has already rendered.
	renames []storyRename
	text    map[string]string
}

type storyNameSeen struct {
	key, name string
	rank      int
}

type storyRename struct{ from, to string }

// storyNameRank orders sources by how readable their names are: PagerDuty
// and Slack carry people's names, GitHub mostly logins.
var storyNameRank = map[string]int{SourcePagerDuty: 0, SourceSlack: 1, SourceGeneric: 2, SourceGitHub: 3}

// storySlackChannelRef finds <#C…|name> channel references in raw Slack text.
var storySlackChannelRef = regexp.MustCompile(`<#([A-Z0-9]+)\|([^>|]+)>`)

func newStoryDirectory(events []Event) *storyDirectory {
	d := &storyDirectory{parent: map[string]string{}, best: map[string]string{}, channels: map[string]string{}, text: map[string]string{}}
	for i := range events {
		e := &events[i]
		if storyIsChat(e.Kind) {
			if ch, name := storyDetail(e.Details, DetailChannel), storyDetail(e.Details, DetailChannelName); ch != "" && name != "" {
				if _, ok := d.channels[ch]; !ok {
					d.channels[ch] = strings.TrimPrefix(name, "#")
				}
			}
		}
		if e.Kind == KindPageNotified {
			u := storyDetailMap(e.Details, DetailNotifiedPerson)
			d.identity(e.Source, u["id"], u["name"], u["email"])
		}
		if e.Actor != nil && !isStoryBot(e) {
			d.identity(e.Source, e.Actor.ID, e.Actor.Name, e.Actor.Email)
		}
	}
	// Channel names referenced in text, for channels no event named.
	for i := range events {
		if e := &events[i]; storyIsChat(e.Kind) && strings.Contains(e.Text, "<#") {
			for _, m := range storySlackChannelRef.FindAllStringSubmatch(e.Text, -1) {
				if _, ok := d.channels[m[1]]; !ok {
					d.channels[m[1]] = m[2]
				}
			}
		}
	}
	rank := map[string]int{}
	for _, n := range d.names {
		root := d.find(n.key)
		if r, ok := rank[root]; !ok || n.rank < r {
			d.best[root], rank[root] = n.name, n.rank
		}
	}
	seen := map[string]bool{}
	for _, n := range d.names {
		if strings.HasPrefix(n.key, "i\x00"+SourceSlack+"\x00") && !seen[n.name] {
			seen[n.name] = true
			if to := d.best[d.find(n.key)]; to != n.name {
				d.renames = append(d.renames, storyRename{from: n.name, to: to})
			}
		}
	}
	slices.SortFunc(d.renames, func(a, b storyRename) int {
		return cmp.Or(cmp.Compare(len(b.from), len(a.from)), cmp.Compare(a.from, b.from))
	})
	return d
}

func (d *storyDirectory) find(k string) string {
	p, ok := d.parent[k]
	if !ok {
		d.parent[k] = k
		return k
	}
	if p == k {
		return k
	}
	r := d.find(p)
	d.parent[k] = r
	return r
}

func (d *storyDirectory) union(a, b string) {
	ra, rb := d.find(a), d.find(b)
	if ra == rb {
		return
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	d.parent[rb] = ra
}

func storyIdentityKey(source, id, email string) string {
	if id != "" {
		return "i\x00" + source + "\x00" + id
	}
	if email != "" {
		return "e\x00" + strings.ToLower(email)
	}
	return ""
}

func (d *storyDirectory) identity(source, id, name, email string) {
	k := storyIdentityKey(source, id, email)
	if k == "" {
		return
	}
	d.find(k)
	if id != "" && email != "" {
		d.union(k, "e\x00"+strings.ToLower(email))
	}
	if name != "" {
		rank, ok := storyNameRank[source]
		if !ok {
			rank = len(storyNameRank)
		}
		if !strings.ContainsAny(strings.TrimSpace(name), " \t") {
			// A one-word name ("alice", a login) gives way to a full
			// name from any source.
			rank += 10
		}
		d.names = append(d.names, storyNameSeen{key: k, name: name, rank: rank})
	}
}

// person returns the person key and one name of an identity, or "" and
// fallback when the identity is unknown.
func (d *storyDirectory) person(source, id, email, fallback string) (string, string) {
	k := storyIdentityKey(source, id, email)
	if k == "" {
		return "", fallback
	}
	if _, ok := d.parent[k]; !ok {
		return "", fallback
	}
	root := d.find(k)
	return root, cmp.Or(d.best[root], fallback)
}

// personKey is the person behind a chat or other event, "" for bots and
// events without a person.
func (d *storyDirectory) personKey(e *Event) string {
	if e.Actor == nil || isStoryBot(e) {
		return ""
	}
	k, _ := d.person(e.Source, e.Actor.ID, e.Actor.Email, "")
	return k
}

// nameOf is the name an event's actor is shown under.
func (d *storyDirectory) nameOf(e *Event) string {
	if e.Actor == nil {
		return "Someone"
	}
	fallback := cmp.Or(e.Actor.Name, e.Actor.ID, "Someone")
	if isStoryBot(e) {
		return fallback
	}
	_, name := d.person(e.Source, e.Actor.ID, e.Actor.Email, fallback)
	return name
}

// actor is e's actor under the person's one name, without the email.
func (d *storyDirectory) actor(e *Event) *Actor {
	if e.Actor == nil {
		return nil
	}
	return &Actor{ID: e.Actor.ID, Name: d.nameOf(e)}
}

// notifiedKey and notifiedName are the person a page.notified event paged.
func (d *storyDirectory) notifiedKey(e *Event) string {
	u := storyDetailMap(e.Details, DetailNotifiedPerson)
	if k, _ := d.person(e.Source, u["id"], u["email"], ""); k != "" {
		return k
	}
	return "?" + u["name"]
}

func (d *storyDirectory) notifiedName(e *Event) string {
	u := storyDetailMap(e.Details, DetailNotifiedPerson)
	_, name := d.person(e.Source, u["id"], u["email"], cmp.Or(u["name"], u["id"], "someone"))
	return name
}

// channel is how a row names a Slack channel: #name, else its id.
func (d *storyDirectory) channel(id string) string {
	if n := d.channels[id]; n != "" {
		return "#" + n
	}
	return id
}

// slackText renders Slack markup as text: <@U…> becomes @name (the
// person's one name), <#C…|name> #name, <https://x|label> the label and
// <https://x> the URL, <!here> @here; &amp; &lt; &gt; are unescaped and
// *bold*, _italic_ and ~strike~ markers dropped. Mentions the collector
// already rendered under a Slack display name get the person's one name.
func (d *storyDirectory) slackText(s string) string {
	if out, ok := d.text[s]; ok {
		return out
	}
	out := s
	// Mentions already rendered first, so that the names the tokens
	// give are not renamed again.
	if strings.Contains(out, "@") {
		for _, r := range d.renames {
			out = storyReplaceMention(out, r.from, r.to)
		}
	}
	if strings.Contains(out, "<") {
		out = d.slackTokens(out)
	}
	out = storyUnescaper.Replace(out)
	out = storyStripFormatting(out)
	d.text[s] = out
	return out
}

var storyUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func (d *storyDirectory) slackTokens(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		tok := s[i+1 : i+j]
		s = s[i+j+1:]
		ref, label, hasLabel := strings.Cut(tok, "|")
		switch {
		case strings.HasPrefix(ref, "@"):
			id := ref[1:]
			_, name := d.person(SourceSlack, id, "", cmp.Or(strings.TrimPrefix(label, "@"), id))
			b.WriteString("@" + name)
		case strings.HasPrefix(ref, "#"):
			b.WriteString("#" + cmp.Or(label, d.channels[ref[1:]], ref[1:]))
		case strings.HasPrefix(ref, "!"):
			cmd := ref[1:]
			switch {
			case hasLabel && label != "":
				b.WriteString(label)
			case strings.HasPrefix(cmd, "subteam^"):
				b.WriteString("@" + strings.TrimPrefix(cmd, "subteam^"))
			default:
				b.WriteString("@" + cmd)
			}
		case hasLabel && label != "":
			b.WriteString(label)
		default:
			b.WriteString(strings.TrimPrefix(ref, "mailto:"))
		}
	}
	return b.String()
}

// storyReplaceMention replaces @from by @to where from is not the start of a
// longer handle ("@dan" in "@dan.o") and the text does not already say @to.
func storyReplaceMention(s, from, to string) string {
	needle := "@" + from
	var b strings.Builder
	for {
		i := strings.Index(s, needle)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len(needle)
		continues := j < len(s) && (storyWordByte(s[j]) || strings.IndexByte(".-_", s[j]) >= 0 && j+1 < len(s) && storyWordByte(s[j+1]))
		if continues || strings.HasPrefix(s[i:], "@"+to) {
			b.WriteString(s[:j])
			s = s[j:]
			continue
		}
		b.WriteString(s[:i] + "@" + to)
		s = s[j:]
	}
}

var storyURL = regexp.MustCompile(`https?://\S+`)

// storyStripFormatting drops Slack's *bold*, _italic_ and ~strike~ markers
// around words, leaving URLs and snake_case alone.
func storyStripFormatting(s string) string {
	if !strings.ContainsAny(s, "*_~") {
		return s
	}
	var b strings.Builder
	last := 0
	for _, loc := range storyURL.FindAllStringIndex(s, -1) {
		b.WriteString(storyStripMarkers(s[last:loc[0]]))
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(storyStripMarkers(s[last:]))
	return b.String()
}

func storyStripMarkers(s string) string {
	for _, m := range []byte{'*', '_', '~'} {
		s = storyStripMarker(s, m)
	}
	return s
}

func storyStripMarker(s string, m byte) string {
	if strings.IndexByte(s, m) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == m && (i == 0 || !storyWordByte(s[i-1])) && i+1 < len(s) && s[i+1] != ' ' && s[i+1] != m {
			j := i + 2
			for j < len(s) && s[j] != '\n' && !(s[j] == m && s[j-1] != ' ' && (j+1 == len(s) || !storyWordByte(s[j+1]))) {
				j++
			}
			if j < len(s) && s[j] == m {
				b.WriteString(s[i+1 : j])
				i = j + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// storyWordByte reports whether c is part of a word: an ASCII letter or digit,
// or a byte of a multi-byte rune.
func storyWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
