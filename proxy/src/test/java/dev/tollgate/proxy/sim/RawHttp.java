package dev.tollgate.proxy.sim;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client over a plain socket, for what the JDK HttpClient hides: chunk
 * boundaries, a stream cut without its last chunk (the JDK client drops the bytes it had buffered
 * when the connection breaks), and a peer that stops reading.
 */
final class RawHttp implements AutoCloseable {

    /** A response as it came off the wire; {@code terminated} is false when the connection ended before the last chunk. */
    record Response(int status, Map<String, String> headers, List<String> chunks, boolean terminated) {
        String body() {
            return String.join("", chunks);
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private boolean lastChunk;

    RawHttp(int port) throws IOException {
        this(port, 0);
    }

    /** With {@code receiveBufferBytes} > 0 the socket's receive buffer is pinned small, as a slow reader's would be. */
    RawHttp(int port, int receiveBufferBytes) throws IOException {
        this.socket = new Socket();
        if (receiveBufferBytes > 0) {
            socket.setReceiveBufferSize(receiveBufferBytes);
        }
        socket.connect(new java.net.InetSocketAddress("127.0.0.1", port), 5_000);
        socket.setSoTimeout(20_000);
        this.in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
        this.out = socket.getOutputStream();
    }

    Socket socket() {
        return socket;
    }

    void sendPost(String path, Map<String, String> headers, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder("POST ").append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        head.append("Content-Type: application/json\r\nContent-Length: ").append(bytes.length).append("\r\n\r\n");
        out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.flush();
    }

    /** Reads the status line and headers. */
    Response readHead() throws IOException {
        String statusLine = readLine();
        if (statusLine == null) {
            throw new IOException("connection closed before a response");
        }
        int status = Integer.parseInt(statusLine.split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        String line;
        while ((line = readLine()) != null && !line.isEmpty()) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
        }
        return new Response(status, headers, List.of(), false);
    }

    /** Reads one chunk's data, or null at the last chunk or at end of stream (see {@link #sawLastChunk()}). */
    String readChunk() throws IOException {
        String sizeLine = readLine();
        if (sizeLine == null) {
            return null;
        }
        int size = Integer.parseInt(sizeLine.trim(), 16);
        if (size == 0) {
            readLine(); // the blank line after the last chunk
            lastChunk = true;
            return null;
        }
        byte[] data = in.readNBytes(size);
        if (data.length < size) {
            return null;
        }
        readLine(); // CRLF after the data
        return new String(data, StandardCharsets.UTF_8);
    }

    /** Reads a body of known length (after {@link #readHead()} of a response with a Content-Length). */
    byte[] readBody(int length) throws IOException {
        return in.readNBytes(length);
    }

    boolean sawLastChunk() {
        return lastChunk;
    }

    /** Reads a whole chunked response. */
    Response readChunked() throws IOException {
        Response head = readHead();
        List<String> chunks = new ArrayList<>();
        String chunk;
        while ((chunk = readChunk()) != null) {
            chunks.add(chunk);
        }
        return new Response(head.status(), head.headers(), chunks, lastChunk);
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, length, StandardCharsets.UTF_8);
            }
            line.write(b);
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
