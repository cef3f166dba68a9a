package timeline

import (
	"cmp"
	"slices"
	"strings"
)

// storyDirectory knows what the story view shows instead of ids: one name
// per person, the names of channels, and chat text with people's mentions
// under their one name.
type storyDirectory struct {
	parent map[string]string
	// names holds every name seen per identity key, for the choice of one.
	names    []storyNameSeen
	best     map[string]string // union-find root → the person's name
	channels map[string]string // channel id → name
	// renames maps a name a person chats under to the person's one name
	// where they differ, for the mentions in chat text (@alice).
	renames []storyRename
	shown   map[string]string // a text → the text the story shows
}

type storyNameSeen struct {
	key, name string
	rank      int
	// chat is set for the name of a chat message's author.
	chat bool
}

type storyRename struct{ from, to string }

// storyNameRank ranks a name of identity id by how readable it is, lowest
// best: a name of two words or more ("Alice Smith"), then a one-word handle
// ("alice"), then a name that is only the id (a login, or an id no name was
// found for).
func storyNameRank(id, name string) int {
	name = strings.TrimSpace(name)
	switch {
	case name == strings.TrimSpace(id):
		return 2
	case !strings.ContainsAny(name, " \t"):
		return 1
	}
	return 0
}

func newStoryDirectory(events []Event) *storyDirectory {
	d := &storyDirectory{parent: map[string]string{}, best: map[string]string{}, channels: map[string]string{}, shown: map[string]string{}}
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
			d.identity(e.Source, u["id"], u["name"], u["email"], false)
		}
		if e.Actor != nil && !isStoryBot(e) {
			d.identity(e.Source, e.Actor.ID, e.Actor.Name, e.Actor.Email, storyIsChat(e.Kind))
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
		if n.chat && !seen[n.name] {
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

// identity records an identity and the name it goes by; chat marks the
// name a person chats under, whose mentions get the person's one name.
func (d *storyDirectory) identity(source, id, name, email string, chat bool) {
	k := storyIdentityKey(source, id, email)
	if k == "" {
		return
	}
	d.find(k)
	if id != "" && email != "" {
		d.union(k, "e\x00"+strings.ToLower(email))
	}
	if name != "" {
		d.names = append(d.names, storyNameSeen{key: k, name: name, rank: storyNameRank(id, name), chat: chat})
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

// channel is how a row names a channel: #name, else its id.
func (d *storyDirectory) channel(id string) string {
	if n := d.channels[id]; n != "" {
		return "#" + n
	}
	return id
}

// text is chat event e's text as the story shows it: as its reader sees it
// (DetailPlainText, else Text), with mentions under a name the person
// chats by (@alice) given the person's one name (@Alice Smith).
func (d *storyDirectory) text(e *Event) string {
	s := cmp.Or(storyDetail(e.Details, DetailPlainText), e.Text)
	if out, ok := d.shown[s]; ok {
		return out
	}
	out := s
	if strings.Contains(out, "@") {
		for _, r := range d.renames {
			out = storyReplaceMention(out, r.from, r.to)
		}
	}
	d.shown[s] = out
	return out
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

// storyWordByte reports whether c is part of a word: an ASCII letter or digit,
// or a byte of a multi-byte rune.
func storyWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
