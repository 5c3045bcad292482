package dev.tollgate.bench.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * An open-loop HTTP/1.1 load generator: requests are due at fixed intended times (a constant
 * arrival rate) whatever the responses do, and every latency is measured from the request's
 * <em>intended</em> send time, so a server that stalls is charged for the requests that queued
 * behind the stall (the coordinated-omission correction of wrk2 and HdrHistogram).
 *
 * <p>Each event loop thread owns a share of the schedule (request {@code g} of the run is due at
 * {@code start + g / rate} and belongs to loop {@code g mod loops}), its own bounded pool of
 * keep-alive connections (one request at a time on each, no pipelining) and its own histograms, so
 * nothing is shared on the hot path. A due request takes an idle connection, or waits in a bounded
 * FIFO queue while a new connection is opened (up to the pool's bound) or a busy one frees up; the
 * wait counts in its latency. Requests still queued {@code drainNs} after the schedule ends are
 * dropped and counted as unsent; requests already sent are always waited for (each up to the
 * response timeout), so that the server sees no disconnect the client did not intend.
 *
 * <p>Every response is checked whole ({@link ResponseCheck}): status 200, a complete JSON body
 * with usage, or a stream with the expected number of events ending with its terminal event.
 */
public final class LoadGenerator implements AutoCloseable {

    /** Highest latency the histograms track, in microseconds: an hour. */
    private static final long HIGHEST_TRACKABLE_US = TimeUnit.HOURS.toMicros(1);
    private static final int SIGNIFICANT_DIGITS = 3;
    private static final long SWEEP_EVERY_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final int PROBLEM_SAMPLES = 8;

    /**
     * What to run.
     *
     * @param target            where to connect
     * @param mix               request kinds, sent in turn
     * @param ratePerSecond     the arrival rate
     * @param warmupNs          the first part of the schedule, sent and checked but not in the histograms
     * @param measureNs         the measured part, right after the warm-up (one continuous schedule)
     * @param maxConnections    the pool's bound, over all loops
     * @param maxPending        the bound of each loop's queue of due requests; beyond it a request is unsent
     * @param responseTimeoutNs a sent request not answered whole within this is closed and counted incomplete
     * @param drainNs           how long after the schedule ends queued requests may still be sent
     * @param localAddresses    source addresses for connections, in turn (several loopback addresses
     *                          give more ephemeral ports); empty lets the kernel choose
     */
    public record Spec(String label, InetSocketAddress target, List<RequestTemplate> mix, double ratePerSecond,
                       long warmupNs, long measureNs, int maxConnections, int maxPending, long responseTimeoutNs,
                       long drainNs, List<InetAddress> localAddresses) {
        public Spec {
            Objects.requireNonNull(target, "target");
            mix = List.copyOf(mix);
            localAddresses = List.copyOf(localAddresses);
            if (mix.isEmpty()) {
                throw new IllegalArgumentException("no request kinds");
            }
            if (!(ratePerSecond > 0) || warmupNs < 0 || measureNs <= 0 || maxConnections < 1 || maxPending < 1
                    || responseTimeoutNs <= 0 || drainNs < 0) {
                throw new IllegalArgumentException("bad load spec: " + ratePerSecond + "/s, warm-up " + warmupNs + " ns, measure "
                        + measureNs + " ns, " + maxConnections + " connections");
            }
        }

        /** Requests in the whole schedule (warm-up and measured). */
        public long totalRequests() {
            return (long) Math.floor(ratePerSecond * (warmupNs + measureNs) / 1e9);
        }

        public Spec withRate(double rate) {
            return new Spec(label, target, mix, rate, warmupNs, measureNs, maxConnections, maxPending, responseTimeoutNs, drainNs,
                    localAddresses);
        }

        public Spec withLabel(String newLabel) {
            return new Spec(newLabel, target, mix, ratePerSecond, warmupNs, measureNs, maxConnections, maxPending, responseTimeoutNs,
                    drainNs, localAddresses);
        }
    }

    /** What happened to the requests of one phase (warm-up or measured); {@code scheduled = sent + unsent}. */
    public record Counts(long scheduled, long sent, long completed, long errors, long incomplete, long unsent) {
        static final Counts ZERO = new Counts(0, 0, 0, 0, 0, 0);

        Counts plus(Counts o) {
            return new Counts(scheduled + o.scheduled, sent + o.sent, completed + o.completed, errors + o.errors,
                    incomplete + o.incomplete, unsent + o.unsent);
        }

        /** Sent requests whose outcome is not known: must be 0 once a run is over. */
        public long unaccounted() {
            return sent - completed - errors - incomplete;
        }
    }

    /**
     * One run's outcome. Histograms are in microseconds, of measured requests only: latency from the
     * intended send time to the last byte; service time from the actual send; for streams the time to
     * the first complete event (from the intended time) and the gaps between consecutive events; and
     * the send lag (actual minus intended send time), which shows the generator's own lateness.
     */
    public record Result(Spec spec, long startNs, Counts warmup, Counts measured, Histogram latencyUs, Histogram serviceUs,
                         Histogram ttfbUs, Histogram gapUs, Histogram sendLagUs, int peakConnections, List<String> problems,
                         long[] worstLatencyPerSecondUs) {

        public Counts all() {
            return warmup.plus(measured);
        }

        /** Measured completions per second of the measured window. */
        public double achievedPerSecond() {
            return measured.completed() / (spec.measureNs() / 1e9);
        }

        /** Everything offered was sent and answered whole, and the latency at {@code percentile} is under the limit. */
        public boolean sustained(double percentile, long limitUs) {
            return clean() && latencyUs.getTotalCount() > 0 && latencyUs.getValueAtPercentile(percentile) < limitUs;
        }

        /** No error, no incomplete response, nothing unsent, in either phase. */
        public boolean clean() {
            Counts all = all();
            return all.errors() == 0 && all.incomplete() == 0 && all.unsent() == 0 && all.unaccounted() == 0;
        }
    }

    private final MultiThreadIoEventLoopGroup group;
    private final List<EventLoop> loops = new ArrayList<>();
    private final AtomicLong openStreams = new AtomicLong();
    private final AtomicLong completedLive = new AtomicLong();
    private final AtomicLong failedLive = new AtomicLong();

    public LoadGenerator(int threads) {
        if (!Epoll.isAvailable()) {
            throw new IllegalStateException("the load generator needs native epoll", Epoll.unavailabilityCause());
        }
        this.group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("load-client", true), EpollIoHandler.newFactory());
        for (EventExecutor executor : group) {
            loops.add((EventLoop) executor);
        }
    }

    /** Streams whose first event has arrived and whose end has not, right now (for the many-streams test). */
    public long openStreams() {
        return openStreams.get();
    }

    /** Responses completed whole so far, over every run. */
    public long completedSoFar() {
        return completedLive.get();
    }

    /** Requests that ended in an error or incomplete so far, over every run. */
    public long failedSoFar() {
        return failedLive.get();
    }

    /** Runs {@code spec} with its schedule starting at {@code startNs} ({@link System#nanoTime()}); blocks until it is over. */
    public Result run(Spec spec, long startNs) throws InterruptedException {
        List<Worker> workers = new ArrayList<>();
        List<Promise<Void>> done = new ArrayList<>();
        for (int i = 0; i < loops.size(); i++) {
            Worker worker = new Worker(loops.get(i), spec, i, loops.size(), startNs);
            workers.add(worker);
            done.add(worker.finished);
            loops.get(i).execute(worker::begin);
        }
        for (Promise<Void> promise : done) {
            promise.await();
            if (!promise.isSuccess()) {
                throw new IllegalStateException("load worker failed", promise.cause());
            }
        }
        Counts warmup = Counts.ZERO;
        Counts measured = Counts.ZERO;
        Histogram latency = histogram();
        Histogram service = histogram();
        Histogram ttfb = histogram();
        Histogram gap = histogram();
        Histogram sendLag = histogram();
        int peak = 0;
        List<String> problems = new ArrayList<>();
        for (Worker worker : workers) {
            warmup = warmup.plus(worker.counts(0));
            measured = measured.plus(worker.counts(1));
            latency.add(worker.latency);
            service.add(worker.service);
            ttfb.add(worker.ttfb);
            gap.add(worker.gap);
            sendLag.add(worker.sendLag);
            peak += worker.peakConnections;
            for (String problem : worker.problems) {
                if (problems.size() < PROBLEM_SAMPLES) {
                    problems.add(problem);
                }
            }
        }
        long[] worst = new long[workers.getFirst().worstPerSecondUs.length];
        for (Worker worker : workers) {
            for (int i = 0; i < worst.length; i++) {
                worst[i] = Math.max(worst[i], worker.worstPerSecondUs[i]);
            }
        }
        return new Result(spec, startNs, warmup, measured, latency, service, ttfb, gap, sendLag, peak, problems, worst);
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    static Histogram histogram() {
        return new Histogram(HIGHEST_TRACKABLE_US, SIGNIFICANT_DIGITS);
    }

    /**
     * The intended send time of request {@code globalIndex} of a schedule: computed from the index,
     * never by adding intervals, so that rounding does not drift over millions of requests.
     */
    static long intendedNs(long startNs, double ratePerSecond, long globalIndex) {
        return startNs + (long) (globalIndex * (1e9 / ratePerSecond));
    }

    /** How many of {@code total} requests belong to loop {@code index} of {@code loops} (those with {@code g mod loops == index}). */
    static long shareOf(long total, int index, int loops) {
        return total / loops + (index < total % loops ? 1 : 0);
    }

    /** One event loop's share of a run. Every field is touched only on that loop. */
    private final class Worker {
        final EventLoop loop;
        final Spec spec;
        final int index;
        final int loopCount;
        final long startNs;
        final long measureFromNs;
        final long scheduleEndNs;
        final long localCount;
        final int maxConnections;
        final Promise<Void> finished;
        final LongRing pending;
        final ArrayDeque<Connection> idle = new ArrayDeque<>();
        final List<Connection> all = new ArrayList<>();
        final Bootstrap bootstrap;

        long nextLocal;
        int connections;
        int connecting;
        int peakConnections;
        int busy;
        int templateCursor;
        int addressCursor;
        boolean scheduleDone;
        boolean drainPassed;
        boolean over;
        ScheduledFuture<?> sweeper;

        final long[] scheduled = new long[2];
        final long[] sent = new long[2];
        final long[] completed = new long[2];
        final long[] errors = new long[2];
        final long[] incomplete = new long[2];
        final long[] unsent = new long[2];
        final Histogram latency = histogram();
        final Histogram service = histogram();
        final Histogram ttfb = histogram();
        final Histogram gap = histogram();
        final Histogram sendLag = histogram();
        final List<String> problems = new ArrayList<>();
        /** The worst latency of the requests due in each second of the schedule (warm-up included): when the stalls were. */
        final long[] worstPerSecondUs;

        Worker(EventLoop loop, Spec spec, int index, int loopCount, long startNs) {
            this.loop = loop;
            this.spec = spec;
            this.index = index;
            this.loopCount = loopCount;
            this.startNs = startNs;
            this.measureFromNs = startNs + spec.warmupNs();
            this.scheduleEndNs = startNs + spec.warmupNs() + spec.measureNs();
            this.localCount = shareOf(spec.totalRequests(), index, loopCount);
            this.maxConnections = Math.max(1, (int) shareOf(spec.maxConnections(), index, loopCount));
            this.finished = loop.newPromise();
            this.pending = new LongRing(spec.maxPending());
            this.worstPerSecondUs = new long[(int) Math.min(100_000, (spec.warmupNs() + spec.measureNs()) / 1_000_000_000L + 1)];
            this.bootstrap = new Bootstrap()
                    .group(loop)
                    .channel(EpollSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000);
        }

        Counts counts(int phase) {
            return new Counts(scheduled[phase], sent[phase], completed[phase], errors[phase], incomplete[phase], unsent[phase]);
        }

        void begin() {
            sweeper = loop.scheduleAtFixedRate(this::sweep, SWEEP_EVERY_NS, SWEEP_EVERY_NS, TimeUnit.NANOSECONDS);
            tick();
        }

        long intendedLocal(long local) {
            return intendedNs(startNs, spec.ratePerSecond(), local * loopCount + index);
        }

        int phaseOf(long intended) {
            return intended >= measureFromNs ? 1 : 0;
        }

        /** Sends every request that is due, then sleeps until the next one is. */
        void tick() {
            long now = System.nanoTime();
            while (nextLocal < localCount) {
                long intended = intendedLocal(nextLocal);
                if (intended > now) {
                    now = System.nanoTime();
                    if (intended > now) {
                        loop.schedule(this::tick, intended - now, TimeUnit.NANOSECONDS);
                        return;
                    }
                }
                nextLocal++;
                dispatch(intended);
            }
            scheduleDone = true;
            long drainAt = Math.max(now, scheduleEndNs) + spec.drainNs();
            loop.schedule(this::drainDeadline, Math.max(0, drainAt - now), TimeUnit.NANOSECONDS);
            checkOver();
        }

        void dispatch(long intended) {
            int phase = phaseOf(intended);
            scheduled[phase]++;
            Connection idleConnection = pending.isEmpty() ? pollIdle() : null;
            if (idleConnection != null) {
                send(idleConnection, intended);
                return;
            }
            if (pending.size() >= pending.capacity()) {
                unsent[phase]++;
                return;
            }
            pending.add(intended);
            // A new connection only for a request that no connection being opened will take: opening
            // one per queued request would turn a short stall into a storm of connects.
            if (connections < maxConnections && connecting < pending.size()) {
                connect();
            }
        }

        Connection pollIdle() {
            Connection connection = idle.pollLast();
            while (connection != null && !connection.channel.isActive()) {
                connection = idle.pollLast();
            }
            return connection;
        }

        void connect() {
            connections++;
            connecting++;
            peakConnections = Math.max(peakConnections, connections);
            Connection connection = new Connection(this);
            ChannelFuture future;
            Bootstrap b = bootstrap.clone().handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel channel) {
                    channel.pipeline()
                            .addLast("http-decoder", new HttpResponseDecoder(4096, 16 * 1024, 64 * 1024))
                            .addLast("check", connection);
                }
            });
            if (spec.localAddresses().isEmpty()) {
                future = b.connect(spec.target());
            } else {
                InetAddress local = spec.localAddresses().get(addressCursor++ % spec.localAddresses().size());
                future = b.connect(spec.target(), new InetSocketAddress(local, 0));
            }
            future.addListener((ChannelFuture f) -> {
                connecting--;
                if (f.isSuccess()) {
                    connection.channel = f.channel();
                    all.add(connection);
                    if (over) {
                        f.channel().close();
                        return;
                    }
                    next(connection);
                } else {
                    connections--;
                    problem("connect failed: " + f.cause());
                    // Without this a queue would wait for a server that refuses every connection.
                    if (!pending.isEmpty()) {
                        long intended = pending.poll();
                        int phase = phaseOf(intended);
                        sent[phase]++;
                        errors[phase]++;
                        failedLive.incrementAndGet();
                    }
                    if (!pending.isEmpty() && connections < maxConnections) {
                        loop.schedule(this::connect, 10, TimeUnit.MILLISECONDS);
                    }
                    checkOver();
                }
            });
        }

        /** A connection is free: it takes the oldest queued request, or waits idle. */
        void next(Connection connection) {
            if (!pending.isEmpty()) {
                send(connection, pending.poll());
            } else {
                idle.addLast(connection);
                checkOver();
            }
        }

        void send(Connection connection, long intended) {
            int phase = phaseOf(intended);
            RequestTemplate template = spec.mix().get(templateCursor);
            templateCursor = templateCursor + 1 == spec.mix().size() ? 0 : templateCursor + 1;
            long now = System.nanoTime();
            sent[phase]++;
            busy++;
            if (phase == 1) {
                sendLag.recordValue(Math.min(HIGHEST_TRACKABLE_US, Math.max(0, now - intended) / 1000));
            }
            connection.begin(template, intended, now, phase);
            connection.channel.writeAndFlush(template.wire(), connection.channel.voidPromise());
        }

        /** A response ended: whole ({@code failure} null) or not. */
        void ended(Connection connection, long now, String failure, boolean serverError) {
            int phase = connection.phase;
            busy--;
            if (failure == null) {
                completed[phase]++;
                completedLive.incrementAndGet();
                int second = (int) Math.min(worstPerSecondUs.length - 1, Math.max(0, (connection.intendedNs - startNs) / 1_000_000_000L));
                worstPerSecondUs[second] = Math.max(worstPerSecondUs[second], (now - connection.intendedNs) / 1000);
                if (phase == 1) {
                    latency.recordValue(Math.min(HIGHEST_TRACKABLE_US, (now - connection.intendedNs) / 1000));
                    service.recordValue(Math.min(HIGHEST_TRACKABLE_US, (now - connection.sentNs) / 1000));
                    if (connection.template.stream()) {
                        ttfb.recordValue(Math.min(HIGHEST_TRACKABLE_US, Math.max(0, connection.firstEventNs - connection.intendedNs) / 1000));
                    }
                }
            } else {
                if (serverError) {
                    errors[phase]++;
                } else {
                    incomplete[phase]++;
                }
                failedLive.incrementAndGet();
                problem(connection.template.name() + ": " + failure);
            }
        }

        void problem(String problem) {
            if (problems.size() < PROBLEM_SAMPLES) {
                problems.add(problem);
            }
        }

        void connectionGone(Connection connection) {
            connections--;
            idle.remove(connection);
            all.remove(connection);
            if (!pending.isEmpty() && connections < maxConnections && connecting < pending.size() && !over) {
                connect();
            }
            checkOver();
        }

        void drainDeadline() {
            drainPassed = true;
            while (!pending.isEmpty()) {
                unsent[phaseOf(pending.poll())]++;
            }
            checkOver();
        }

        /** Closes requests that have waited longer than the response timeout. */
        void sweep() {
            long now = System.nanoTime();
            for (Connection connection : List.copyOf(all)) {
                if (connection.busy && now - connection.sentNs > spec.responseTimeoutNs()) {
                    connection.fail(now, "no whole response within " + spec.responseTimeoutNs() / 1_000_000 + " ms", false);
                    connection.channel.close();
                }
            }
        }

        void checkOver() {
            if (over || !scheduleDone || busy > 0 || !pending.isEmpty()) {
                return;
            }
            over = true;
            sweeper.cancel(false);
            for (Connection connection : List.copyOf(all)) {
                connection.channel.close();
            }
            idle.clear();
            finished.trySuccess(null);
        }
    }

    /** One client connection: its response decoder's consumer and the check of each response. */
    private final class Connection extends ChannelInboundHandlerAdapter implements ResponseCheck.EventListener {
        final Worker worker;
        final ResponseCheck check = new ResponseCheck();
        Channel channel;
        RequestTemplate template;
        boolean busy;
        int phase;
        long intendedNs;
        long sentNs;
        long firstEventNs;
        long lastEventNs;
        boolean streamOpen;
        int status;
        boolean keepAlive;

        Connection(Worker worker) {
            this.worker = worker;
        }

        void begin(RequestTemplate template, long intendedNs, long sentNs, int phase) {
            this.template = template;
            this.intendedNs = intendedNs;
            this.sentNs = sentNs;
            this.phase = phase;
            this.busy = true;
            this.status = 0;
            this.firstEventNs = 0;
            this.lastEventNs = 0;
            this.streamOpen = false;
            this.keepAlive = true;
            check.reset(template.stream());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                long now = System.nanoTime();
                if (!busy) {
                    fail(now, "bytes from the server while no request was in flight", false);
                    ctx.close();
                    return;
                }
                if (msg instanceof HttpResponse response) {
                    if (response.decoderResult().isFailure()) {
                        fail(now, "bad response head: " + response.decoderResult().cause(), false);
                        ctx.close();
                        return;
                    }
                    status = response.status().code();
                    keepAlive = HttpUtil.isKeepAlive(response);
                }
                if (msg instanceof HttpContent content) {
                    if (content.decoderResult().isFailure()) {
                        fail(now, "bad response body: " + content.decoderResult().cause(), false);
                        ctx.close();
                        return;
                    }
                    check.feed(content.content(), now, this);
                    if (msg instanceof LastHttpContent) {
                        finish(now);
                    }
                }
            } finally {
                // Released: every part of a response is consumed here.
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void onEvent(long nowNs) {
            if (firstEventNs == 0) {
                firstEventNs = nowNs;
                streamOpen = true;
                openStreams.incrementAndGet();
            } else if (phase == 1) {
                worker.gap.recordValue(Math.min(HIGHEST_TRACKABLE_US, (nowNs - lastEventNs) / 1000));
            }
            lastEventNs = nowNs;
        }

        private void finish(long now) {
            String failure = null;
            boolean serverError = false;
            if (status != 200) {
                failure = "status " + status;
                serverError = true;
            } else {
                failure = check.incompleteReason();
                if (failure == null && template.stream() && check.events() != template.expectedEvents()) {
                    failure = check.events() + " events, expected " + template.expectedEvents();
                }
            }
            if (failure != null) {
                fail(now, failure, serverError);
                channel.close();
                return;
            }
            endStream();
            busy = false;
            worker.ended(this, now, null, false);
            if (keepAlive) {
                worker.next(this);
            } else {
                channel.close();
            }
        }

        void fail(long now, String failure, boolean serverError) {
            if (!busy) {
                return;
            }
            endStream();
            busy = false;
            worker.ended(this, now, failure, serverError);
        }

        private void endStream() {
            if (streamOpen) {
                openStreams.decrementAndGet();
                streamOpen = false;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            fail(System.nanoTime(), "connection closed before the response ended", false);
            worker.connectionGone(this);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(System.nanoTime(), "connection error: " + cause, false);
            ctx.close();
        }
    }

    /** A bounded FIFO of longs (intended send times), allocation-free once built. */
    static final class LongRing {
        private final long[] values;
        private final int mask;
        private long head;
        private long tail;

        LongRing(int capacity) {
            int size = Integer.highestOneBit(Math.max(1, capacity - 1)) << 1;
            this.values = new long[size];
            this.mask = size - 1;
        }

        int capacity() {
            return values.length;
        }

        int size() {
            return (int) (tail - head);
        }

        boolean isEmpty() {
            return head == tail;
        }

        void add(long value) {
            if (size() == values.length) {
                throw new IllegalStateException("ring full");
            }
            values[(int) (tail++ & mask)] = value;
        }

        long poll() {
            if (isEmpty()) {
                throw new IllegalStateException("ring empty");
            }
            return values[(int) (head++ & mask)];
        }
    }
}
