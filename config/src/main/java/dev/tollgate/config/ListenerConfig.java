package dev.tollgate.config;

/** Where a Tollgate listener binds; port 0 picks a free port. */
public record ListenerConfig(String host, int port) {
}
