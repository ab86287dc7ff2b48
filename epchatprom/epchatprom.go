// Package epchatprom exports the figures of an epchat Hub to Prometheus.
//
// A Collector reads Hub.Stats at scrape time: the Hub keeps its counters
// anyway, so there is nothing to update between scrapes and nothing to
// register on a global registry.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(epchatprom.NewCollector(hub))
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every metric is named epchat_*; see README.md for what each means. No
// metric has a label that names a room, a member or anything a user said:
// labels are reasons and error codes, a fixed and small set.
package epchatprom

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/epchat-go/epchat"
)

// StatsSource is what a Collector reads: an *epchat.Hub.
type StatsSource interface {
	Stats() epchat.Stats
}

// Collector is a prometheus.Collector of one Hub's figures. It is safe for
// concurrent use, as Hub.Stats is.
type Collector struct {
	src     StatsSource
	metrics []metric
}

// An Option configures a Collector.
type Option func(*options)

type options struct {
	constLabels prometheus.Labels
}

// WithConstLabels adds labels with fixed values to every metric, for
// example {"hub": "support"} to tell two Hubs of one process apart.
// Default: none.
func WithConstLabels(l prometheus.Labels) Option {
	return func(o *options) { o.constLabels = l }
}

// metric is one exported metric: its description, its type, and how to
// read its values (one per label value, or one unlabelled) from Stats.
type metric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	label string // "" for an unlabelled metric
	read  func(s *epchat.Stats) []labelled
}

type labelled struct {
	label string
	value float64
}

func one(v float64) []labelled { return []labelled{{value: v}} }

// NewCollector returns a Collector of src's figures. Register it on a
// registry of your own.
func NewCollector(src StatsSource, opts ...Option) *Collector {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	c := &Collector{src: src}
	add := func(name, help string, typ prometheus.ValueType, label string, read func(s *epchat.Stats) []labelled) {
		var labels []string
		if label != "" {
			labels = []string{label}
		}
		c.metrics = append(c.metrics, metric{
			desc:  prometheus.NewDesc(name, help, labels, o.constLabels),
			typ:   typ,
			label: label,
			read:  read,
		})
	}
	gauge := func(name, help string, read func(s *epchat.Stats) int64) {
		add(name, help, prometheus.GaugeValue, "", func(s *epchat.Stats) []labelled { return one(float64(read(s))) })
	}
	counter := func(name, help string, read func(s *epchat.Stats) uint64) {
		add(name, help, prometheus.CounterValue, "", func(s *epchat.Stats) []labelled { return one(float64(read(s))) })
	}
	byLabel := func(name, help, label string, read func(s *epchat.Stats) []labelled) {
		add(name, help, prometheus.CounterValue, label, read)
	}

	gauge("epchat_connections",
		"WebSocket connections open now, identified or not.",
		func(s *epchat.Stats) int64 { return s.Connections })
	gauge("epchat_connections_polled",
		"Open connections served by the poller, with no goroutine while idle.",
		func(s *epchat.Stats) int64 { return s.ConnectionsPolled })
	counter("epchat_connections_opened_total",
		"WebSocket upgrades accepted.",
		func(s *epchat.Stats) uint64 { return s.ConnectionsOpened })
	counter("epchat_connections_refused_total",
		"WebSocket upgrades refused with 503 at a connection limit (in total or per address).",
		func(s *epchat.Stats) uint64 { return s.ConnectionsRefused })
	byLabel("epchat_connections_closed_total",
		"WebSocket connections ended, by reason: client, identify_timeout, ping_timeout, slow, protocol, shutdown, policy, other.",
		"reason", func(s *epchat.Stats) []labelled {
			cc := s.ConnectionsClosed
			return []labelled{
				{"client", float64(cc.Client)},
				{"identify_timeout", float64(cc.IdentifyTimeout)},
				{"ping_timeout", float64(cc.PingTimeout)},
				{"slow", float64(cc.Slow)},
				{"protocol", float64(cc.Protocol)},
				{"shutdown", float64(cc.Shutdown)},
				{"policy", float64(cc.Policy)},
				{"other", float64(cc.Other)},
			}
		})

	gauge("epchat_users",
		"Sessions known: created minus forgotten and ended by this process.",
		func(s *epchat.Stats) int64 { return s.Users })
	counter("epchat_users_created_total",
		"Sessions created by a hello with a nickname.",
		func(s *epchat.Stats) uint64 { return s.UsersCreated })
	counter("epchat_users_resumed_total",
		"Hellos that came back with a valid session token.",
		func(s *epchat.Stats) uint64 { return s.UsersResumed })
	counter("epchat_users_forgotten_total",
		"Users forgotten after the user idle timeout, or the seatless user timeout.",
		func(s *epchat.Stats) uint64 { return s.UsersForgotten })
	counter("epchat_users_ended_total",
		"Sessions their users ended with end_session.",
		func(s *epchat.Stats) uint64 { return s.UsersEnded })

	gauge("epchat_rooms",
		"Rooms open: opened minus closed by this process.",
		func(s *epchat.Stats) int64 { return s.Rooms })
	gauge("epchat_rooms_served",
		"Rooms at least one connection of this process receives the events of.",
		func(s *epchat.Stats) int64 { return s.RoomsServed })
	counter("epchat_rooms_opened_total",
		"Rooms opened by a create request or by the host application.",
		func(s *epchat.Stats) uint64 { return s.RoomsOpened })
	byLabel("epchat_rooms_closed_total",
		"Rooms closed, by reason: owner, idle, empty, host, shutdown, lost.",
		"reason", func(s *epchat.Stats) []labelled {
			rc := s.RoomsClosed
			return []labelled{
				{epchat.ReasonOwner, float64(rc.Owner)},
				{epchat.ReasonIdle, float64(rc.Idle)},
				{epchat.ReasonEmpty, float64(rc.Empty)},
				{epchat.ReasonHost, float64(rc.Host)},
				{epchat.ReasonShutdown, float64(rc.Shutdown)},
				{epchat.ReasonLost, float64(rc.Lost)},
			}
		})
	counter("epchat_rooms_locked_total",
		"Rooms locked by their owner or the host application.",
		func(s *epchat.Stats) uint64 { return s.RoomsLocked })
	counter("epchat_rooms_unlocked_total",
		"Rooms unlocked by their owner or the host application.",
		func(s *epchat.Stats) uint64 { return s.RoomsUnlocked })

	gauge("epchat_members",
		"Seats taken now, in every room.",
		func(s *epchat.Stats) int64 { return s.Members })
	counter("epchat_members_joined_total",
		"Seats taken: room creators and redeemed invites.",
		func(s *epchat.Stats) uint64 { return s.MembersJoined })
	byLabel("epchat_members_left_total",
		"Members who left a room, by reason: left, disconnected, kicked.",
		"reason", func(s *epchat.Stats) []labelled {
			return []labelled{
				{epchat.ReasonLeft, float64(s.MembersLeft.Left)},
				{epchat.ReasonDisconnected, float64(s.MembersLeft.Disconnected)},
				{epchat.ReasonKicked, float64(s.MembersLeft.Kicked)},
			}
		})

	counter("epchat_messages_total",
		"Messages relayed (send requests accepted).",
		func(s *epchat.Stats) uint64 { return s.Messages })
	counter("epchat_histories_total",
		"History requests relayed.",
		func(s *epchat.Stats) uint64 { return s.Histories })
	counter("epchat_deliveries_total",
		"Room events queued to connections, once per receiving connection.",
		func(s *epchat.Stats) uint64 { return s.Deliveries })
	counter("epchat_received_bytes_total",
		"Bytes read from WebSocket connections, frame headers included.",
		func(s *epchat.Stats) uint64 { return s.BytesIn })
	counter("epchat_sent_bytes_total",
		"Bytes written to WebSocket connections, frame headers included.",
		func(s *epchat.Stats) uint64 { return s.BytesOut })

	counter("epchat_invites_made_total",
		"Invites made by owners and by the host application.",
		func(s *epchat.Stats) uint64 { return s.InvitesMade })
	counter("epchat_invites_redeemed_total",
		"Invites redeemed by a join.",
		func(s *epchat.Stats) uint64 { return s.InvitesRedeemed })
	counter("epchat_invites_expired_total",
		"Invites deleted unused after their TTL.",
		func(s *epchat.Stats) uint64 { return s.InvitesExpired })
	counter("epchat_invites_refused_total",
		"Joins whose invite was refused (invalid, room full, already a member, too many rooms).",
		func(s *epchat.Stats) uint64 { return s.InvitesRefused })

	byLabel("epchat_errors_total",
		"Error events sent to clients, by protocol error code.",
		"code", func(s *epchat.Stats) []labelled {
			out := make([]labelled, 0, len(s.Errors))
			for code, n := range s.Errors {
				out = append(out, labelled{code, float64(n)})
			}
			slices.SortFunc(out, func(a, b labelled) int { return strings.Compare(a.label, b.label) })
			return out
		})
	counter("epchat_hook_calls_dropped_total",
		"Hook calls dropped because the hook queue was full or the Hub had shut down.",
		func(s *epchat.Stats) uint64 { return s.HooksDropped })
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector: one Hub.Stats snapshot per
// scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	for _, m := range c.metrics {
		for _, v := range m.read(&s) {
			if m.label == "" {
				ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v.value)
			} else {
				ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v.value, v.label)
			}
		}
	}
}
