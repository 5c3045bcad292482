package dev.tollgate.proxy.lanes;

import dev.tollgate.metering.request.Rejection;
import dev.tollgate.proxy.ErrorShapes;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Headers;
import dev.tollgate.proxy.exchange.Exchange;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpResponse;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Puts each request in its lane before admission: it takes one of the lane's slots, or waits in the lane's queue, or is
 * refused because the lane is full. A waiting request holds no money (admission, which reserves, comes after this) and
 * keeps its own connection's event loop: when a slot is its own it is resumed there, through that loop's
 * {@link Resumptions}. Its slot is given back when its exchange completes, whatever ended it.
 *
 * <p>Per connection, like the rest of the pipeline: at most one request of the connection is here at a time.
 */
public final class LaneGate extends ChannelInboundHandlerAdapter {
    public static final String NAME = "lane-gate";

    private final Gateway gateway;
    private final Resumptions resumptions;
    /** The request of this connection waiting for a slot, or null. */
    private Queued queued;

    public LaneGate(Gateway gateway, Resumptions resumptions) {
        this.gateway = gateway;
        this.resumptions = resumptions;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Exchange exchange = (Exchange) msg;
        Lanes.Choice choice = gateway.lanes().choose(exchange.key(), exchange.request().headers().get(Headers.TOLLGATE_LANE));
        if (choice.refused()) {
            gateway.metrics().refused(exchange.surface(), choice.refusedAs());
            exchange.respond(ErrorShapes.response(ctx.alloc(), exchange.surface(), new Rejection(choice.refusedAs(), choice.refusal(), null),
                    exchange.requestId()));
            return;
        }
        Lane lane = choice.lane();
        Queued waiter = new Queued(ctx, exchange, lane);
        switch (lane.enter(waiter)) {
            case ADMITTED -> {
                exchange.enteredLane(lane);
                ctx.fireChannelRead(exchange); // forwarded to admission
            }
            case FULL -> refuse(exchange, lane, Rejection.Kind.LANE_FULL, "The lane `" + lane.name() + "` is full: all "
                    + lane.config().maxConcurrent() + " of its requests at once are running and " + lane.config().queueDepth()
                    + " more are waiting. Nothing was charged.");
            case QUEUED -> {
                queued = waiter;
                waiter.timer = ctx.executor().schedule(() -> timedOut(waiter), lane.config().queueTimeoutMs(), TimeUnit.MILLISECONDS);
            }
        }
    }

    private void timedOut(Queued waiter) {
        if (!waiter.lane.timedOut(waiter)) {
            return; // granted meanwhile: its resumption is on its way
        }
        forget(waiter);
        refuse(waiter.exchange, waiter.lane, Rejection.Kind.LANE_QUEUE_TIMEOUT, "The lane `" + waiter.lane.name() + "` had no free slot within "
                + waiter.lane.config().queueTimeoutMs() + " ms. Nothing was charged.");
    }

    private void resume(Queued waiter) {
        waiter.cancelTimer();
        forget(waiter);
        Exchange exchange = waiter.exchange;
        exchange.enteredLane(waiter.lane); // from here its completion gives the slot back
        if (!waiter.ctx.channel().isActive()) {
            exchange.clientGone(); // left as the slot came: it goes on to the next request
            return;
        }
        try {
            waiter.ctx.fireChannelRead(exchange); // forwarded to admission
        } catch (RuntimeException e) {
            exchange.abort(e);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Queued waiter = queued;
        if (waiter != null && waiter.lane.abandoned(waiter)) {
            forget(waiter);
            waiter.cancelTimer();
            waiter.exchange.clientGone(); // nothing was held: it only ends
        }
        ctx.fireChannelInactive();
    }

    private void forget(Queued waiter) {
        if (queued == waiter) {
            queued = null;
        }
    }

    private void refuse(Exchange exchange, Lane lane, Rejection.Kind kind, String message) {
        gateway.metrics().refused(exchange.surface(), kind);
        long retryAfterSeconds = lane.retryAfterSeconds();
        FullHttpResponse response = ErrorShapes.response(exchange.channel().alloc(), exchange.surface(),
                Rejection.of(kind, message + " Try again in " + retryAfterSeconds + "s."), exchange.requestId());
        response.headers().set("retry-after", retryAfterSeconds);
        response.headers().set("retry-after-ms", TimeUnit.SECONDS.toMillis(retryAfterSeconds));
        exchange.respond(response);
    }

    /** A request of this connection in its lane's queue. */
    private final class Queued extends Lane.Waiter {
        final ChannelHandlerContext ctx;
        final Exchange exchange;
        final Lane lane;
        /** Set on the loop right after queueing; read there only. */
        ScheduledFuture<?> timer;

        Queued(ChannelHandlerContext ctx, Exchange exchange, Lane lane) {
            this.ctx = ctx;
            this.exchange = exchange;
            this.lane = lane;
        }

        @Override
        protected void granted() {
            resumptions.submit(lane.priorityRank(), () -> resume(this));
        }

        void cancelTimer() {
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }
    }
}
