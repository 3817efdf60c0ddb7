// Package systemd holds the canonical, hardened systemd units of the zhizhi agent and server.
package systemd

import _ "embed"

// AgentUnitName is the unit name of the agent service.
const AgentUnitName = "zhizhi-agent.service"

// ServerUnitName is the unit name of the server service.
const ServerUnitName = "zhizhi.service"

// AgentUnit is the content of zhizhi-agent.service, the unit `zhizhi-agent install` and the agent package write.
//
//go:embed zhizhi-agent.service
var AgentUnit []byte

// ServerUnit is the content of zhizhi.service, the unit the server package installs.
//
//go:embed zhizhi.service
var ServerUnit []byte
