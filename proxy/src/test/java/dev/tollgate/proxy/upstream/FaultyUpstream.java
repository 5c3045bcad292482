package dev.tollgate.proxy.upstream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI-protocol upstream that fails in one chosen way, for the fallback tests: it reads each request whole and then
 * refuses, resets, answers 500 or 429 in OpenAI's error shape, hangs before the response head, or starts a stream and
 * dies in it. {@link Fault#REFUSE} closes the listening socket, so a connect is refused by the operating system.
 */
final class FaultyUpstream implements AutoCloseable {
    enum Fault { REFUSE, RESET, STATUS_500, STATUS_429, HANG, DIE_MID_STREAM }

    private final ServerSocket server;
    private final int port;
    private volatile Fault fault;
    private final AtomicInteger requests = new AtomicInteger();
    private final CopyOnWriteArrayList<Socket> open = new CopyOnWriteArrayList<>();

    FaultyUpstream(Fault fault) throws IOException {
        this.fault = fault;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.port = server.getLocalPort();
        Thread acceptor = new Thread(this::accept, "faulty-upstream-" + port);
        acceptor.setDaemon(true);
        acceptor.start();
        if (fault == Fault.REFUSE) {
            server.close();
        }
    }

    String baseUrl() {
        return "http://127.0.0.1:" + port + "/v1";
    }

    /** Requests read whole so far. */
    int requests() {
        return requests.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                open.add(socket);
                Thread handler = new Thread(() -> serve(socket), "faulty-upstream-conn");
                handler.setDaemon(true);
                handler.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            while (readRequest(in)) {
                requests.incrementAndGet();
                switch (fault) {
                    case REFUSE, RESET -> {
                        socket.setSoLinger(true, 0); // closing now sends RST
                        return;
                    }
                    case STATUS_500 -> error(out, 500, "Internal Server Error", "server_error", "The server had an error while processing your request.");
                    case STATUS_429 -> error(out, 429, "Too Many Requests", "rate_limit_error", "Rate limit reached for requests.");
                    case HANG -> {
                        Thread.sleep(60_000);
                        return;
                    }
                    case DIE_MID_STREAM -> {
                        out.write(("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nx-request-id: req_faulty\r\n\r\n")
                                .getBytes(StandardCharsets.US_ASCII));
                        String event = "data: {\"id\":\"chatcmpl-faulty\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\","
                                + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
                        byte[] bytes = event.getBytes(StandardCharsets.UTF_8);
                        out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.write(bytes);
                        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        Thread.sleep(50);
                        socket.setSoLinger(true, 0);
                        return;
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            // the proxy closed its side: this connection is over
        } finally {
            open.remove(socket);
        }
    }

    private static void error(OutputStream out, int status, String phrase, String type, String message) throws IOException {
        byte[] body = ("{\"error\":{\"message\":\"" + message + "\",\"type\":\"" + type + "\",\"param\":null,\"code\":null}}")
                .getBytes(StandardCharsets.UTF_8);
        out.write(("HTTP/1.1 " + status + " " + phrase + "\r\ncontent-type: application/json\r\ncontent-length: " + body.length
                + "\r\nx-request-id: req_faulty_" + status + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    /** Reads one request's head and body; false at the end of the connection. */
    private static boolean readRequest(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                return false;
            }
            head.write(b);
            matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3)) ? matched + 1 : b == '\r' ? 1 : 0;
        }
        int length = 0;
        for (String line : head.toString(StandardCharsets.US_ASCII).split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring("content-length:".length()).trim());
            }
        }
        return in.readNBytes(length).length == length;
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket socket : open) {
            socket.close();
        }
    }
}
