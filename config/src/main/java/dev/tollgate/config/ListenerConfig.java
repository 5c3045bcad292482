package dev.tollgate.config;

/** Where a Tollgate listener binds; port 0 picks a free port. */
public record ListenerConfig(String host, int port) {
    /** The admin listener unless the configuration says otherwise: loopback only, next to the proxy's 8080. */
    public static final ListenerConfig DEFAULT_ADMIN = new ListenerConfig("127.0.0.1", 8081);

    /** Whether only this machine can reach the address (a loopback name or address). */
    public boolean isLoopback() {
        try {
            // Resolved, not matched by name: "127.example.com" is not loopback.
            return java.net.InetAddress.getByName(host.startsWith("[") ? host.substring(1, host.length() - 1) : host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }
}
