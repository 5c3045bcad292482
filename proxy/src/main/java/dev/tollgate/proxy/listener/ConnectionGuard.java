package dev.tollgate.proxy.listener;

import dev.tollgate.config.Limits;
import dev.tollgate.config.Protocol;
import dev.tollgate.proxy.ErrorShapes;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.util.ByteProcessor;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one client connection from holding the listener's resources for nothing: first in the pipeline, it
 * refuses a connection over the listener's or its address's cap with a 503, gives a request
 * {@code headReadTimeoutMs} from its first byte (or a new connection from its opening) to arrive whole,
 * and closes a kept-alive connection idle for {@code clientIdleTimeoutMs}. While a request is in flight no
 * timer runs: a long stream is normal, and the exchange has its own upstream timeouts.
 *
 * <p>One timer per connection, re-armed only when it fires (it checks the deadline then), so the request
 * path itself only reads the clock.
 */
public final class ConnectionGuard extends ChannelInboundHandlerAdapter {
    static final String NAME = "connection-guard";
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
    private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Where a connection is between requests. */
    private enum Phase {
        /** No byte of the next request yet: the idle deadline (for a new connection, the head deadline). */
        WAITING,
        /** Part of a request has arrived: the head deadline. */
        READING,
        /** A whole request is being answered: no deadline. */
        ANSWERING
    }

    /** The open client connections of one listener, in total and per address. */
    public static final class Connections {
        private final AtomicInteger open = new AtomicInteger();
        private final ConcurrentHashMap<InetAddress, AtomicInteger> perAddress = new ConcurrentHashMap<>();
        private final AtomicLong refused = new AtomicLong();
        private final AtomicLong timedOut = new AtomicLong();
        private final AtomicLong lastLogNanos = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);

        public int open() {
            return open.get();
        }

        /** Connections refused at a cap since start. */
        public long refused() {
            return refused.get();
        }

        /** Connections closed by the head-read or idle timeout since start. */
        public long timedOut() {
            return timedOut.get();
        }

        private boolean admit(InetAddress address, Limits limits) {
            boolean underTotal = open.incrementAndGet() <= limits.maxClientConnections();
            boolean underAddress = address == null
                    || perAddress.computeIfAbsent(address, a -> new AtomicInteger()).incrementAndGet() <= limits.maxClientConnectionsPerAddress();
            return underTotal && underAddress;
        }

        private void leave(InetAddress address) {
            open.decrementAndGet();
            if (address != null) {
                perAddress.computeIfPresent(address, (a, count) -> count.decrementAndGet() == 0 ? null : count);
            }
        }

        private void logRefusal(String why) {
            long refusedSoFar = refused.incrementAndGet();
            long now = System.nanoTime();
            long last = lastLogNanos.get();
            if (now - last >= LOG_EVERY_NANOS && lastLogNanos.compareAndSet(last, now)) {
                LOG.warn("refusing client connections: {} ({} refused since start, {} open)", why, refusedSoFar, open.get());
            }
        }
    }

    private final Connections connections;
    private final Limits limits;
    private final long headReadTimeoutNanos;
    private final long idleTimeoutNanos;
    /** The timer never waits longer than the shortest timeout, so any deadline set while it waits is still met. */
    private final long longestWaitNanos;
    private InetAddress address;
    private boolean counted;
    private Phase phase = Phase.WAITING;
    private long deadlineNanos;
    private boolean timerArmed;
    private ChannelHandlerContext context;
    /** True while the bytes of a request head are passing: they are checked for obs-fold lines. */
    private boolean inHead;
    private boolean atLineStart;
    /** Looks at head bytes until the head ends; stops (returns false) at an obs-fold line or the head's end. */
    private final ByteProcessor headScanner = this::scanHeadByte;
    private boolean foldFound;

    public ConnectionGuard(Connections connections, Limits limits) {
        this.connections = connections;
        this.limits = limits;
        this.headReadTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(limits.headReadTimeoutMs());
        this.idleTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(limits.clientIdleTimeoutMs());
        this.longestWaitNanos = Math.min(headReadTimeoutNanos, idleTimeoutNanos);
    }

    /** The handler after the body aggregator that tells this guard where each request and response ends. */
    public ChannelDuplexHandler requestSide() {
        return new RequestSide();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        context = ctx;
        address = ctx.channel().remoteAddress() instanceof InetSocketAddress socket ? socket.getAddress() : null;
        counted = true;
        if (!connections.admit(address, limits)) {
            connections.logRefusal(connections.open() > limits.maxClientConnections()
                    ? "the listener holds its maximum of " + limits.maxClientConnections() + " connections"
                    : "an address holds its maximum of " + limits.maxClientConnectionsPerAddress() + " connections");
            refuse(ctx, ErrorShapes.TOO_MANY_CONNECTIONS,
                    "Tollgate has too many open connections from you or in total; close idle connections or retry shortly.");
            return;
        }
        deadline(Phase.WAITING, headReadTimeoutNanos); // a new connection must start its request soon
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (counted) {
            counted = false;
            connections.leave(address);
        }
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof ByteBuf bytes && bytes.isReadable()) {
            if (phase == Phase.WAITING) {
                deadline(Phase.READING, headReadTimeoutNanos);
                inHead = true;
                atLineStart = false;
            }
            if (inHead) {
                bytes.forEachByte(headScanner);
                if (foldFound) {
                    // A header continued on the next line (obs-fold) is read one way by Netty and another by some
                    // proxies and providers: a request smuggling vector, refused as RFC 9112 allows.
                    bytes.release();
                    refuse(ctx, ErrorShapes.BAD_FRAMING, "Header lines continued with leading whitespace (obs-fold) are not accepted.");
                    return;
                }
            }
        }
        super.channelRead(ctx, msg);
    }

    private boolean scanHeadByte(byte value) {
        if (atLineStart) {
            atLineStart = false;
            if (value == ' ' || value == '\t') {
                foldFound = true;
                return false;
            }
            if (value == '\r' || value == '\n') {
                inHead = false; // the empty line: the head is over, the body is not scanned
                return false;
            }
        }
        if (value == '\n') {
            atLineStart = true;
        }
        return true;
    }

    private void deadline(Phase next, long timeoutNanos) {
        phase = next;
        deadlineNanos = System.nanoTime() + timeoutNanos;
        if (!timerArmed) {
            arm(timeoutNanos);
        }
    }

    private void arm(long delayNanos) {
        timerArmed = true;
        context.executor().schedule(this::timerFired, Math.min(delayNanos, longestWaitNanos), TimeUnit.NANOSECONDS);
    }

    private void timerFired() {
        timerArmed = false;
        if (phase == Phase.ANSWERING || !context.channel().isActive()) {
            return; // re-armed when the response ends
        }
        long left = deadlineNanos - System.nanoTime();
        if (left > 0) {
            arm(left);
            return;
        }
        connections.timedOut.incrementAndGet();
        if (phase == Phase.READING) {
            refuse(context, ErrorShapes.REQUEST_TIMEOUT,
                    "The request did not arrive whole within " + limits.headReadTimeoutMs() + " ms.");
        } else {
            context.close(); // idle, or never said anything: there is no request to answer
        }
    }

    /**
     * Answers with {@code kind}'s status and closes, written at the socket's end of the pipeline: before any request is
     * decoded the surface is unknown, so the body has OpenAI's shape, the one most clients read.
     */
    private static void refuse(ChannelHandlerContext ctx, ErrorShapes.ErrorKind kind, String message) {
        HttpResponseStatus status = kind.status();
        byte[] body = ErrorShapes.body(Protocol.OPENAI, kind, message, null, null);
        byte[] head = ("HTTP/1.1 " + status.code() + " " + status.reasonPhrase() + "\r\ncontent-type: application/json\r\ncontent-length: "
                + body.length + "\r\nconnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        ctx.writeAndFlush(Unpooled.wrappedBuffer(head, body)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Sees whole requests (after the aggregator) and the ends of responses. */
    private final class RequestSide extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (msg instanceof FullHttpRequest) {
                phase = Phase.ANSWERING;
            }
            super.channelRead(ctx, msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (phase == Phase.ANSWERING && (msg instanceof LastHttpContent || msg instanceof FullHttpResponse)) {
                deadline(Phase.WAITING, idleTimeoutNanos);
            }
            super.write(ctx, msg, promise);
        }
    }
}
