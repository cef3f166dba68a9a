package slackfake

import (
	"net/url"
	"strings"
)

// MethodConversationsInfo describes a channel (its name, for the timeline).
const MethodConversationsInfo = "conversations.info"

// SetChannelName names a channel (creating it when it does not exist). A
// channel never named is called after its id in lower case, as every
// Slack channel has a name.
func (s *Server) SetChannelName(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channelLocked(id)
	if s.channelNames == nil {
		s.channelNames = map[string]string{}
	}
	s.channelNames[id] = name
}

// wireChannel is a public channel as conversations.info describes it.
type wireChannel struct {
	ID                 string      `json:"id"`
	Name               string      `json:"name"`
	IsChannel          bool        `json:"is_channel"`
	IsGroup            bool        `json:"is_group"`
	IsIM               bool        `json:"is_im"`
	IsMpIM             bool        `json:"is_mpim"`
	IsPrivate          bool        `json:"is_private"`
	Created            int64       `json:"created"`
	IsArchived         bool        `json:"is_archived"`
	IsGeneral          bool        `json:"is_general"`
	Unlinked           int         `json:"unlinked"`
	NameNormalized     string      `json:"name_normalized"`
	IsShared           bool        `json:"is_shared"`
	IsOrgShared        bool        `json:"is_org_shared"`
	IsPendingExtShared bool        `json:"is_pending_ext_shared"`
	PendingShared      []string    `json:"pending_shared"`
	ContextTeamID      string      `json:"context_team_id"`
	Updated            int64       `json:"updated"`
	Creator            string      `json:"creator"`
	IsExtShared        bool        `json:"is_ext_shared"`
	SharedTeamIDs      []string    `json:"shared_team_ids"`
	IsMember           bool        `json:"is_member"`
	Topic              wireTopic   `json:"topic"`
	Purpose            wireTopic   `json:"purpose"`
	PreviousNames      []string    `json:"previous_names"`
	ParentConversation interface{} `json:"parent_conversation"`
}

type wireTopic struct {
	Value   string `json:"value"`
	Creator string `json:"creator"`
	LastSet int64  `json:"last_set"`
}

// conversationInfo answers conversations.info: {"ok": true, "channel":
// {...}}, or channel_not_found for a channel the fake does not have.
func (s *Server) conversationInfo(form url.Values) any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id := form.Get("channel")
	if _, ok := s.channels[id]; !ok {
		return errorBody("channel_not_found")
	}
	name, ok := s.channelNames[id]
	if !ok {
		name = strings.ToLower(id)
	}
	return struct {
		OK      bool        `json:"ok"`
		Channel wireChannel `json:"channel"`
	}{OK: true, Channel: wireChannel{
		ID: id, Name: name, IsChannel: true, Created: 1449252889, NameNormalized: name,
		PendingShared: []string{}, ContextTeamID: s.team.ID, Updated: 1678229664302, Creator: s.team.BotUserID,
		SharedTeamIDs: []string{s.team.ID}, IsMember: true,
		Topic:         wireTopic{Value: "", Creator: "", LastSet: 0},
		Purpose:       wireTopic{Value: "", Creator: "", LastSet: 0},
		PreviousNames: []string{},
	}}
}
