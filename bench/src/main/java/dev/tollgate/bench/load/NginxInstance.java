package dev.tollgate.bench.load;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * nginx as a plain reverse proxy in front of the mock: no metering, no logging, the speed limit of
 * proxying alone. {@code proxy_pass} to an upstream with kept-alive connections, HTTP/1.1 both
 * ways, and {@code proxy_buffering off} so that stream events pass through as they arrive, as an
 * AI gateway must pass them. One worker per core, as Tollgate has one event loop per core.
 */
final class NginxInstance implements AutoCloseable {

    private final ManagedProcess process;
    private final int port;

    private NginxInstance(ManagedProcess process, int port) {
        this.process = process;
        this.port = port;
    }

    /**
     * @param keepalive idle upstream connections kept per worker
     */
    static NginxInstance start(Path nginx, Path directory, int mockPort, int keepalive) throws IOException, InterruptedException {
        Files.createDirectories(directory.resolve("temp"));
        int port = Ports.free();
        Path config = directory.resolve("nginx.conf");
        Files.writeString(config, config(directory, port, mockPort, keepalive), StandardCharsets.UTF_8);
        // -g 'daemon off;' keeps the master in the foreground, so it is this process and the workers its children.
        ManagedProcess process = ManagedProcess.start("nginx",
                List.of(nginx.toString(), "-p", directory.toString(), "-c", config.toString(), "-e", directory.resolve("error.log").toString(),
                        "-g", "daemon off;"),
                Map.of(), directory.resolve("nginx.out"));
        try {
            process.awaitPort(new InetSocketAddress("127.0.0.1", port), Duration.ofSeconds(20));
        } catch (RuntimeException | InterruptedException e) {
            process.close();
            throw e;
        }
        return new NginxInstance(process, port);
    }

    static String config(Path directory, int port, int mockPort, int keepalive) {
        Path temp = directory.resolve("temp");
        return """
                # Written by the load harness: nginx as a plain reverse proxy (no metering) in front of the mock.
                worker_processes auto;
                worker_rlimit_nofile 200000;
                pid %1$s/nginx.pid;
                events {
                    worker_connections 65536;
                }
                http {
                    access_log off;
                    client_body_temp_path %2$s/body;
                    proxy_temp_path %2$s/proxy;
                    fastcgi_temp_path %2$s/fastcgi;
                    uwsgi_temp_path %2$s/uwsgi;
                    scgi_temp_path %2$s/scgi;
                    keepalive_requests 1000000000;
                    keepalive_timeout 600s;
                    upstream mock {
                        server 127.0.0.1:%3$d;
                        keepalive %4$d;
                        keepalive_requests 1000000000;
                        keepalive_timeout 600s;
                    }
                    server {
                        listen 127.0.0.1:%5$d backlog=4096;
                        location / {
                            proxy_pass http://mock;
                            proxy_http_version 1.1;
                            proxy_set_header Connection "";
                            proxy_buffering off;
                            proxy_read_timeout 600s;
                        }
                    }
                }
                """.formatted(directory, temp, mockPort, keepalive, port);
    }

    int port() {
        return port;
    }

    long pid() {
        return process.pid();
    }

    ManagedProcess process() {
        return process;
    }

    @Override
    public void close() {
        process.close();
    }
}
