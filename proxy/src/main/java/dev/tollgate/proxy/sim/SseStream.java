package dev.tollgate.proxy.sim;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Writes one {@link StreamScript} as a chunked {@code text/event-stream} response, entirely on
 * the channel's event loop: delays are scheduled tasks (never sleeps), each event is flushed as
 * its own chunk as soon as it is produced, writing pauses while the channel is not writable, and
 * it stops the moment the peer goes away.
 */
final class SseStream {

    /** With no delay, yield the event loop after this many events so one long stream cannot starve other connections. */
    private static final int EVENTS_PER_TURN = 32;

    /** HUNG: {@code [sim:hang-after]} stopped writing; the stream ends only when the peer leaves. */
    private enum State { WAITING_FIRST_BYTE, STREAMING, HUNG, ENDED }

    private final Exchange exchange;
    private final ChannelHandlerContext ctx;
    private final StreamScript script;
    private final int interEventDelayMs;
    private final WireFaults faults;
    private final int totalEvents;

    private State state = State.WAITING_FIRST_BYTE;
    private int nextPosition;
    private boolean awaitingWritability;
    private Future<?> scheduled;
    private ChannelFuture lastWrite;

    SseStream(Exchange exchange, StreamScript script, int interEventDelayMs, WireFaults faults) {
        this.exchange = exchange;
        this.ctx = exchange.ctx();
        this.script = script;
        this.interEventDelayMs = interEventDelayMs;
        this.faults = faults;
        this.totalEvents = script.totalEvents();
    }

    /** Sends the response head after {@code firstByteDelayMs}, then the events. Call on the event loop. */
    void start(HttpResponse head, int firstByteDelayMs) {
        exchange.provider().streamOpened();
        if (firstByteDelayMs > 0) {
            scheduled = ctx.executor().schedule(() -> sendHead(head), firstByteDelayMs, TimeUnit.MILLISECONDS);
        } else {
            sendHead(head);
        }
    }

    /** The connection closed: if the stream had not finished, the peer cancelled it. */
    void channelClosed() {
        if (state != State.ENDED) {
            end(true, true);
        }
    }

    void writabilityChanged() {
        if (awaitingWritability && ctx.channel().isWritable()) {
            awaitingWritability = false;
            exchange.provider().streamWaiting(false);
            pump();
        }
    }

    private void sendHead(HttpResponse head) {
        scheduled = null;
        if (state == State.ENDED) {
            return;
        }
        if (!ctx.channel().isActive()) {
            end(true, true);
            return;
        }
        state = State.STREAMING;
        // Not flushed alone: the head leaves with the first event.
        lastWrite = ctx.write(head);
        pump();
    }

    private void pump() {
        scheduled = null;
        int written = 0;
        while (state == State.STREAMING) {
            if (!ctx.channel().isActive()) {
                end(true, true);
                return;
            }
            if (WireFaults.afterDeltas(faults.failAfterDeltas(), script, nextPosition)) {
                abort();
                return;
            }
            if (WireFaults.afterDeltas(faults.resetAfterDeltas(), script, nextPosition)) {
                Exchange.resetWhenWritten(ctx, lastWrite);
                end(false, true);
                return;
            }
            if (WireFaults.afterDeltas(faults.hangAfterDeltas(), script, nextPosition)) {
                ctx.flush();
                state = State.HUNG;
                return;
            }
            if (WireFaults.afterDeltas(faults.errorEventAfterDeltas(), script, nextPosition)) {
                ByteBuf error = ctx.alloc().buffer(256);
                script.writeProviderError(error);
                exchange.provider().sseEventWritten();
                ctx.write(new DefaultHttpContent(error));
                finish(); // the provider ends the stream after its error event
                return;
            }
            if (nextPosition == totalEvents) {
                finish();
                return;
            }
            if (!ctx.channel().isWritable()) {
                // Backpressure: resume from channelWritabilityChanged once the peer has read.
                awaitingWritability = true;
                exchange.provider().streamWaiting(true);
                ctx.flush();
                return;
            }
            ByteBuf event = ctx.alloc().buffer(256);
            try {
                script.write(nextPosition, event);
            } catch (RuntimeException e) {
                // A bug in a script: do not leave the stream counted as open forever.
                event.release();
                end(false, true);
                ctx.close();
                throw e;
            }
            nextPosition++;
            boolean truncated = nextPosition == faults.truncateEvent();
            if (truncated) {
                event.writerIndex(event.readerIndex() + Math.max(1, event.readableBytes() / 2));
            } else if (nextPosition == faults.malformedEvent()) {
                dropClosingBrace(event);
            }
            exchange.provider().sseEventWritten();
            lastWrite = ctx.writeAndFlush(new DefaultHttpContent(event));
            lastWrite.addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            if (truncated) {
                abort();
                return;
            }
            boolean more = nextPosition < totalEvents || faults.cutsBefore(script, nextPosition);
            if (interEventDelayMs > 0 && more) {
                scheduled = ctx.executor().schedule(this::pump, interEventDelayMs, TimeUnit.MILLISECONDS);
                return;
            }
            if (++written == EVENTS_PER_TURN) {
                ctx.executor().execute(this::pump);
                return;
            }
        }
    }

    /**
     * {@code [sim:malformed-event]}: removes the last byte before the event's blank line, the closing brace of its
     * JSON (or the bracket of {@code [DONE]}), so the event is framed well but its data does not parse.
     */
    private static void dropClosingBrace(ByteBuf event) {
        int end = event.writerIndex();
        if (event.readableBytes() >= 3 && event.getByte(end - 1) == '\n' && event.getByte(end - 2) == '\n') {
            event.setByte(end - 3, '\n');
            event.writerIndex(end - 1);
        }
    }

    private void finish() {
        ChannelFuture done = ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        if (!exchange.keepAlive()) {
            done.addListener(ChannelFutureListener.CLOSE);
        }
        end(false, !exchange.keepAlive());
    }

    /**
     * {@code [sim:fail-after]} and {@code [sim:truncate-event]}: close without the terminating chunk, after what was written has
     * left (closing at once would discard events still queued in the outbound buffer). A FIN, not
     * a reset, so the client reliably reads every delta before it sees the cut.
     */
    private void abort() {
        // The head may still be unflushed when the cut comes before the first event.
        ctx.flush();
        lastWrite.addListener(ChannelFutureListener.CLOSE);
        end(false, true);
    }

    private void end(boolean cancelledByPeer, boolean connectionClosing) {
        state = State.ENDED;
        if (awaitingWritability) {
            awaitingWritability = false;
            exchange.provider().streamWaiting(false);
        }
        if (scheduled != null) {
            scheduled.cancel(false);
            scheduled = null;
        }
        exchange.provider().streamEnded(cancelledByPeer);
        exchange.done(connectionClosing);
    }
}
