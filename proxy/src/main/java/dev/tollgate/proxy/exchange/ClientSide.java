package dev.tollgate.proxy.exchange;

import dev.tollgate.proxy.Headers;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * Everything an exchange writes to its client, and nothing else: the response head, the body's pieces,
 * when they are flushed, how the response ends, and whether the connection serves another request.
 * Once the client is gone nothing more is written.
 *
 * <p>A head can be <em>held</em> (non-streamed JSON): it and the body wait here, up to
 * {@link #MAX_HELD_BYTES}, until the response's debit is journaled, so that a debit that cannot be
 * recorded can still be answered with a clean 503 instead of a success. A body larger than that is
 * let go as it comes; its failure can then only close the connection, which tells the client the
 * body is incomplete.
 */
final class ClientSide {
    /** A JSON body up to this size waits whole for its debit; larger ones flow on (embeddings batches can be megabytes). */
    static final int MAX_HELD_BYTES = 1 << 20;

    private final Channel channel;
    private final String requestId;
    private final boolean keepAlive;
    private boolean gone;
    private boolean headWritten;
    private HttpResponse heldHead;
    private CompositeByteBuf heldBody;
    private boolean flushAtReadEnd;
    /** The status of the response head that went to the connection, 0 before one did. */
    private int statusSent;

    ClientSide(Channel channel, String requestId, boolean keepAlive) {
        this.channel = channel;
        this.requestId = requestId;
        this.keepAlive = keepAlive;
    }

    Channel channel() {
        return channel;
    }

    boolean gone() {
        return gone;
    }

    void markGone() {
        gone = true;
    }

    /** True once anything of the response reached the connection: it can no longer be replaced by an error response. */
    boolean headWritten() {
        return headWritten;
    }

    /** The status of the response the client was sent (the head that reached its connection), or 0 if none did. */
    int statusSent() {
        return statusSent;
    }

    /** A whole local answer (a refusal, Tollgate's own endpoints, an upstream failure before any output). */
    void respond(FullHttpResponse response) {
        dropHeld();
        if (gone || headWritten) {
            response.release();
            return;
        }
        headWritten = true;
        statusSent = response.status().code();
        stamp(response);
        channel.writeAndFlush(response, channel.voidPromise());
    }

    void writeHead(HttpResponse head) {
        stamp(head);
        headWritten = true;
        statusSent = head.status().code();
        channel.write(head, channel.voidPromise());
    }

    /** Keeps the head (and then the body) back until the end, or until the body outgrows {@link #MAX_HELD_BYTES}. */
    void holdHead(HttpResponse head) {
        stamp(head);
        heldHead = head;
    }

    void writeContent(ByteBuf content) {
        if (gone) {
            content.release();
            return;
        }
        if (heldHead != null) {
            if (heldBody == null) {
                heldBody = channel.alloc().compositeBuffer(Integer.MAX_VALUE); // only bodies that arrive in pieces need one
            }
            heldBody.addComponent(true, content);
            if (heldBody.readableBytes() <= MAX_HELD_BYTES) {
                return;
            }
            letHeldGo();
            return;
        }
        channel.write(new DefaultHttpContent(content), channel.voidPromise());
    }

    /** Flushes once the current upstream read is over, so the events of several upstream chunks leave in one system call. */
    void flushAtReadEnd() {
        flushAtReadEnd = true;
    }

    /** The upstream connection's current read is over (Netty's {@code channelReadComplete}). */
    void upstreamReadComplete() {
        if (flushAtReadEnd) {
            flush();
        }
    }

    void flush() {
        flushAtReadEnd = false;
        if (!gone) {
            channel.flush();
        }
    }

    /** Ends the response, with {@code lastBytes} (may be null) as its final piece. */
    void writeEnd(ByteBuf lastBytes) {
        if (gone) {
            if (lastBytes != null) {
                lastBytes.release();
            }
            dropHeld();
            return;
        }
        if (heldHead != null) {
            letHeldGo();
        }
        LastHttpContent last = lastBytes == null ? LastHttpContent.EMPTY_LAST_CONTENT : new DefaultLastHttpContent(lastBytes);
        channel.writeAndFlush(last, channel.voidPromise());
        flushAtReadEnd = false;
    }

    /** Ends a started streamed response with one more event (an error, in the surface's shape). */
    void writeEndEvent(byte[] event) {
        writeEnd(Unpooled.wrappedBuffer(event));
    }

    /** A response that cannot be ended cleanly (half a JSON body): closing the connection tells the client it is incomplete. */
    void abandonResponse() {
        dropHeld();
        if (flushAtReadEnd) {
            flush();
        }
        channel.close();
    }

    /** After the exchange: the connection serves its next request, or closes when it is not kept alive. */
    void finish(Runnable readNext) {
        if (flushAtReadEnd) {
            flush(); // the upstream connection may be handed on before its read completes
        }
        dropHeld();
        if (!channel.isActive()) {
            return;
        }
        if (keepAlive) {
            readNext.run();
        } else {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private void letHeldGo() {
        HttpResponse head = heldHead;
        CompositeByteBuf body = heldBody;
        heldHead = null;
        heldBody = null;
        headWritten = true;
        statusSent = head.status().code();
        channel.write(head, channel.voidPromise());
        if (body != null && body.isReadable()) {
            channel.write(new DefaultHttpContent(body), channel.voidPromise());
        } else if (body != null) {
            body.release();
        }
    }

    private void dropHeld() {
        heldHead = null;
        if (heldBody != null) {
            heldBody.release();
            heldBody = null;
        }
    }

    private void stamp(HttpResponse head) {
        head.headers().set(Headers.TOLLGATE_REQUEST_ID, requestId);
        HttpUtil.setKeepAlive(head, keepAlive);
    }
}
