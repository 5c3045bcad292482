package dev.tollgate.proxy.listener;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;

/**
 * Stops a client connection from reading while it is paused, whoever asks for a read. Turning
 * auto-read off is not enough on its own: the HTTP decoder and the body aggregator ask for one more
 * read whenever a read ends inside a message, so a client pipelining large requests behind one in
 * flight would keep being read. The first outbound handler (nearest the socket), so it sees every
 * {@code read()}.
 */
public final class ReadGate extends ChannelOutboundHandlerAdapter {
    static final String NAME = "read-gate";

    private boolean paused;

    /** Pauses reading on {@code channel} (its gate, if it has one, and auto-read). */
    static void pause(Channel channel) {
        ReadGate gate = channel.pipeline().get(ReadGate.class);
        if (gate != null) {
            gate.paused = true;
        }
        channel.config().setAutoRead(false);
    }

    /** Resumes reading: auto-read asks for the next read itself. */
    static void resume(Channel channel) {
        ReadGate gate = channel.pipeline().get(ReadGate.class);
        if (gate != null) {
            gate.paused = false;
        }
        channel.config().setAutoRead(true); // reads again
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        if (!paused) {
            ctx.read();
        }
    }
}
