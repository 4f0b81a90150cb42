/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bproc wire protocol between the master (bprocfs), the node agents and
 * agent-to-agent transfers.
 *
 * Everything on the wire is little-endian.  A connection is a stream of
 * frames; each frame is a 16-byte header, `len` bytes of payload and, once
 * the handshake is over, a 16-byte message authentication code:
 *
 *	struct bproc_frame_hdr | payload[len] | mac[BPROC_MAC_BYTES]
 *
 * The handshake (HELLO both ways, then AUTH both ways) proves to each side
 * that the other holds the cluster key.  Both sides then derive one session
 * key per direction from the cluster key and the two nonces.  The MAC of a
 * frame is SipHash-2-4 with 128-bit output (libsodium's
 * crypto_shorthash_siphashx24, a pseudorandom function and so a MAC) of
 * the header and the payload, keyed with the frame's key: SipHash-2-4-128
 * of the little-endian 64-bit sequence number of the frame in that
 * direction (0 for the first frame after AUTH), keyed with the first 16
 * bytes of the direction's session key.  The sequence number is not sent:
 * a dropped, replayed or reordered frame fails its MAC.  SipHash is plain
 * 64-bit arithmetic: it authenticates a process's image faster than the
 * network carries it on any x86-64, with or without vector units (and
 * under emulation), where keyed BLAKE2b (protocol version 1) and Poly1305
 * fall far behind without them.
 *
 *	frame_key  = SipHash-2-4-128(key_dir[0..15], le64(seq))
 *	mac        = SipHash-2-4-128(frame_key, header | payload)
 *
 *	master32   = BLAKE2b-256(contents of the key file)
 *	proof_c    = HMAC-SHA-512-256(master32, "bproc-auth-client" | hello_c | hello_s)
 *	proof_s    = HMAC-SHA-512-256(master32, "bproc-auth-server" | hello_c | hello_s)
 *	key_c2s    = BLAKE2b-256(key master32, "bproc-key-c2s" | nonce_c | nonce_s)
 *	key_s2c    = BLAKE2b-256(key master32, "bproc-key-s2c" | nonce_c | nonce_s)
 *
 * hello_c and hello_s are the HELLO payloads as sent.  The client (the side
 * that connected) sends its AUTH first; the server answers with its own only
 * after checking the client's.
 *
 * Any frame that is malformed (bad version, unknown type, length above
 * BPROC_MAX_PAYLOAD or not what the type requires, bad MAC, a string field
 * without its terminating NUL) ends that connection; the daemon goes on
 * serving every other connection.
 */
#ifndef _BPROC_PROTO_H
#define _BPROC_PROTO_H

#include <linux/types.h>

#define BPROC_PROTO_VERSION 9

/* Largest payload of one frame: bulk streams are cut into frames this size. */
#define BPROC_MAX_PAYLOAD (1u << 20)

#define BPROC_MAC_BYTES 16
#define BPROC_NONCE_BYTES 32
#define BPROC_PROOF_BYTES 32
#define BPROC_NODE_NAME_MAX 16

/* Default TCP ports: the master's listener and each agent's listener. */
#define BPROC_MASTER_PORT 2223
#define BPROC_NODE_PORT 2224

struct bproc_frame_hdr {
	__le32 len; /* payload bytes, not counting header or MAC */
	__le16 type; /* enum bproc_msg_type */
	__u8 version; /* BPROC_PROTO_VERSION */
	__u8 flags; /* none defined yet, must be 0 */
	__le32 stream; /* multiplexed stream id (image, IO), 0 for control */
	__le32 reserved; /* must be 0 */
};

enum bproc_msg_type {
	/* handshake, never carry a MAC */
	BPROC_MSG_HELLO = 1, /* struct bproc_msg_hello, both ways */
	BPROC_MSG_AUTH = 2, /* struct bproc_msg_auth, both ways */

	/* control, both ways */
	BPROC_MSG_BYE = 3, /* struct bproc_msg_bye: why the sender closes */
	BPROC_MSG_PING = 4, /* struct bproc_msg_ping */
	BPROC_MSG_PONG = 5, /* struct bproc_msg_ping, cookie echoed */

	/* membership */
	BPROC_MSG_STATUS = 16, /* agent -> master: struct bproc_msg_status */
	BPROC_MSG_STATUS_ACK = 17, /* master -> agent: struct bproc_msg_ping */
	BPROC_MSG_PID_RANGE = 18, /* master -> node agent, once joined */

	/* moving a process: master <-> agents */
	BPROC_MSG_MOVE_ORDER = 32, /* master -> source agent: start a move */
	BPROC_MSG_MOVE_RESULT = 33, /* source agent -> master: how it ended */
	BPROC_MSG_MOVE_ARMED = 34, /* source agent -> master: self-move armed */
	BPROC_MSG_PROC_REPORT = 35, /* agent -> master: a hosted process */

	/* the image: source agent -> destination agent, on a PEER connection */
	BPROC_MSG_IMAGE_BEGIN = 48, /* struct bproc_msg_image_begin */
	BPROC_MSG_IMAGE_DATA = 49, /* image bytes, any length up to the max */
	BPROC_MSG_IMAGE_END = 50, /* struct bproc_msg_image_end */
	BPROC_MSG_IMAGE_RESULT = 51, /* destination -> source: the verdict */
	BPROC_MSG_IMAGE_STREAMS = 52, /* struct bproc_msg_image_streams */
	BPROC_MSG_FILES_QUERY = 53, /* struct bproc_msg_files_query */
	BPROC_MSG_FILES_ANSWER = 54, /* struct bproc_msg_files_answer */
	BPROC_MSG_IMAGE_KEEP = 55, /* struct bproc_msg_image_ref, protocol 9 */
	BPROC_MSG_IMAGE_FETCH = 56, /* struct bproc_msg_image_ref */
	BPROC_MSG_IMAGE_FETCHED = 57, /* struct bproc_msg_image_end */

	/* the process space, always through the master */
	BPROC_MSG_SIGNAL = 64, /* struct bproc_msg_signal */
	BPROC_MSG_IO_DATA = 80, /* struct bproc_msg_io + bytes */
	BPROC_MSG_IO_EOF = 81, /* struct bproc_msg_io: end of one stream */
	BPROC_MSG_IO_MARK = 82, /* struct bproc_msg_io_mark */
	BPROC_MSG_IO_ACK = 83, /* struct bproc_msg_io_ack */
	BPROC_MSG_STREAM_OWNER = 84, /* struct bproc_msg_stream_owner */
	BPROC_MSG_EXIT = 96, /* struct bproc_msg_exit */
	BPROC_MSG_PROC_FORK = 97, /* struct bproc_msg_proc_fork */
	BPROC_MSG_PROC_GHOST = 98, /* struct bproc_msg_proc_ghost */
	BPROC_MSG_PROC_REAPED = 99, /* struct bproc_msg_proc_reaped */
	BPROC_MSG_PROC_EXEC = 100, /* struct bproc_msg_proc_exec + args */
	BPROC_MSG_PROC_PGRP = 101, /* struct bproc_msg_proc_pgrp */
	BPROC_MSG_PROC_SESSION = 102, /* struct bproc_msg_proc_pgrp */
	BPROC_MSG_PROC_PARENT = 103, /* struct bproc_msg_proc_parent */
	BPROC_MSG_PROC_THREAD = 104, /* struct bproc_msg_proc_thread */
	BPROC_MSG_PROC_THREAD_END = 105, /* struct bproc_msg_proc_thread */
};

/* Who speaks, in bproc_msg_hello.role. */
enum bproc_role {
	BPROC_ROLE_AGENT = 1, /* a node agent joining the master */
	BPROC_ROLE_MASTER = 2, /* the master answering an agent */
	BPROC_ROLE_PEER = 3, /* agent to agent, or a tool to an agent */
};

struct bproc_msg_hello {
	__le32 role; /* enum bproc_role */
	__le32 flags; /* none defined yet, must be 0 */
	__u8 nonce[BPROC_NONCE_BYTES]; /* fresh random bytes */
	char node
		[BPROC_NODE_NAME_MAX]; /* "master" or the node number, NUL-padded */
	__le64 reserved; /* must be 0 */
};

struct bproc_msg_auth {
	__u8 proof[BPROC_PROOF_BYTES];
};

/* Reasons in bproc_msg_bye.reason. */
enum bproc_bye_reason {
	BPROC_BYE_SHUTDOWN = 1, /* the sender stops */
	BPROC_BYE_UNKNOWN_NODE = 2, /* the node is not in the master's config */
	BPROC_BYE_REPLACED = 3, /* a newer connection for the node took over */
	BPROC_BYE_TIMEOUT = 4, /* the peer was silent too long */
	BPROC_BYE_REMOVED = 5, /* the node was removed from the config */
};

struct bproc_msg_bye {
	__le32 reason; /* enum bproc_bye_reason */
	__le32 pad; /* must be 0 */
	char text[56]; /* readable reason, NUL-terminated */
};

struct bproc_msg_ping {
	__le64 cookie;
};

/* bproc_msg_status.flags */
#define BPROC_STATUS_ENGINE \
	(1u << 0) /* bproc.ko loaded and /dev/bproc usable */
#define BPROC_STATUS_FAULT (1u << 1) /* the agent reports a fault: see fault */

struct bproc_msg_status {
	__le32 flags;
	__le32 cpus;
	__le64 mem_total_kb;
	__le64 mem_avail_kb;
	__le32 load1_milli; /* load average times 1000 */
	__le32 load5_milli;
	__le32 load15_milli;
	__le32 procs; /* processes on the node */
	char kernel[64]; /* uname release, NUL-terminated */
	char engine[64]; /* bproc.ko version, or "none (why)" */
	char fault[64]; /* why the node is in error, "" when no fault */
};

/*
 * Moving a process.
 *
 * The cluster's pids are the front end's. The front end's own agent (node
 * "master") dumps front-end processes, keeps their ghosts and is where
 * their stdin, stdout and stderr really are; node agents host moved
 * processes, each under its front-end pid inside one pid namespace per node.
 *
 *  1. The master sends MOVE_ORDER to the agent where the process runs (the
 *     source). For a self-move (the writer is the process) the source arms
 *     an asynchronous dump and answers MOVE_ARMED: the master then answers
 *     the write, and the dump runs as the write returns.
 *  2. The source connects to the destination agent's listener (role PEER)
 *     and, if the order says BPROC_SEND_PATH or _AUTO, asks which of the
 *     process's files the destination has (FILES_QUERY, FILES_ANSWER:
 *     see enum bproc_send) and arms the dump only then; it sends
 *     IMAGE_BEGIN, IMAGE_STREAMS (which of the process's fds are
 *     which of its streams, see below), the image as IMAGE_DATA frames,
 *     and IMAGE_END
 *     (whose error, if not 0, aborts). All frames of a connection's nth
 *     transfer carry stream = n: once a transfer has its IMAGE_RESULT, the
 *     source may keep the connection for its next move to the same
 *     destination (at most BPROC_PEER_IDLE_MS idle; the destination keeps
 *     it far longer, BPROC_PEER_LINGER_MS) and begin transfer n + 1 there,
 *     sparing a connect and a handshake; the destination ignores what
 *     still comes of a transfer it has answered. As soon as the
 *     first image byte is read (the process has begun its dump and is
 *     parked, so its output is final), the source sends the master what
 *     output the old copy left unforwarded (IO_DATA fds 1 and 2), then
 *     IO_MARK. While the destination works on the image it sends a PING
 *     every second, so that the source can tell a slow restore from a
 *     node that went away.
 *  3. The destination restores it (a node: a restorer forked with the pid in
 *     its namespace, as the child of the stand-in for its parent, see
 *     PROC_PARENT; the front end: the ghost restores itself, after the
 *     IO_MARK has reached it and the output before it is written) and
 *     answers IMAGE_RESULT: 0 once the process runs there, else an errno
 *     and why. An IMAGE_RESULT of 0 commits the move: the destination owns
 *     the process from then on. If the connection breaks before a result,
 *     or the result is an error, the source resumes the process where it
 *     was (a self-move's write then fails with the errno).
 *  4. On 0 the source ends its copy (a front-end process becomes a ghost; a
 *     node kills its parked copy), hands back the stdin bytes the old copy
 *     never read (IO_DATA fd 0 with BPROC_IO_REQUEUE, and BPROC_IO_ACKED
 *     for those it had acknowledged: the master passes that flag on, and
 *     the new host does not acknowledge them again) and sends MOVE_RESULT
 *     0. On failure it sends MOVE_RESULT with the errno and the reason.
 *
 * Signals, IO and exits of moved processes go through the master, which
 * knows where each process runs: SIGNAL from the front-end agent (a ghost's
 * signal) to the agent hosting the pid; IO_DATA/IO_EOF for fds 1 and 2 from
 * the host to the front-end agent, for fd 0 the other way; EXIT from the
 * host to the front-end agent, which ends the ghost alike. While a process
 * moves, the master holds what it would route to it (signals, stdin) and
 * what comes from the new host before the old host's IO_MARK, so that
 * output stays in order. The host sends the last IO_DATA and IO_EOF of a
 * process before its EXIT.
 *
 * Streams: a moved process's stdin, stdout and stderr, whatever they are
 * on the front end (terminal, pipe, FIFO, regular file, socket, /dev/null),
 * every other fd that is one of them by origin (2>&1, a shell's saved
 * copy of its stdout while it runs `echo $$ > move`), and any other pipe,
 * FIFO or terminal it had open for writing when it left the front end,
 * are forwarded. Each stream is one open file description of the front
 * end (or one file that takes no offsets: a pipe, a terminal, a file all
 * of whose descriptions append), named by the lowest ghost fd that holds
 * it (0 for stdin): the `fd` of IO_DATA, IO_EOF and IO_ACK is that
 * stream, 0 being the only one read on the front end. Where the process
 * runs, each stream is its own end of a pipe or socket pair to the agent
 * (or /dev/null), at every fd that is that stream as IMAGE_STREAMS says:
 * fd 1 may well be stream 12 once a shell has put its stdout back, and
 * fds 1 and 2 one stream after 2>&1, so that their bytes stay in order.
 * A socket pair of the front end socket's type keeps datagram boundaries:
 * each datagram is one IO_DATA. The engine leaves streams to whoever
 * restores (BPROC_DUMP_STREAMS); the source works out which fd is which
 * stream once the process is parked, and sends IMAGE_STREAMS before the
 * first IMAGE_DATA.
 *
 * Stdin from a regular file is read ahead on the front end; what the
 * process never read is put back (the file's offset goes back) when it
 * exits or comes home: EXIT and IO_MARK say how many bytes its stdin held
 * unread, the rest is what the front end sent and no host acknowledged.
 *
 * IO flow control: whoever finally consumes IO bytes (the front end's
 * agent writing fds 1 and 2 to where the ghost's were, a host writing fd 0
 * into the process's stdin) acknowledges them with IO_ACK, and whoever
 * reads them (a host from the process's stdout and stderr, the front end
 * from the ghost's stdin) keeps at most BPROC_IO_WINDOW bytes per fd
 * unacknowledged, so a slow reader slows the writer down instead of
 * filling buffers. IO_EOF for fd 1 or 2 from the front end's agent to the
 * host says that the reader went away: the host closes the process's end,
 * so its next write fails with EPIPE, as it would have at home. The master
 * routes acks and such EOFs like signals (held while the process moves).
 */

/*
 * The process space.
 *
 * Every process a cluster process starts on a node joins the cluster (as
 * in BProc, none can be made that the front end's process tree does not
 * show). Its pid is unique cluster-wide: the front end's own processes
 * have pids below BPROC_PID_FRONT_MAX (its agent keeps them there), each
 * node's new pids come from a range of its own above that, which the
 * master gives its agent (PID_RANGE) when it joins (both keep pid_max at
 * BPROC_PID_MAX at least).
 *
 * The host tells the master of each such process (PROC_FORK: its pid, its
 * parent's, uid and comm), the master lists it under its node and asks the
 * front end's agent, which has the parent's ghost fork its ghost with that
 * pid (BPROC_IOC_GHOST_FORK): the same parent, process group, session and
 * terminal, so that ps, kill, the terminal's signals and the parent's
 * wait() see the tree as it would be here. The front end says whether it
 * could (PROC_GHOST; EEXIST: the pid is taken there, and the master has
 * the process ended). A node-born process shares its parent's streams on
 * the node; their IO goes under the pid of whoever has them now: their
 * first owner, then, once it has ended, a process that still holds them
 * (STREAM_OWNER tells the front end, which reads stdin for that one).
 *
 * Names: when a cluster process executes a program on a node (a moved
 * one, say bpsh's shell becoming the command, or one born there), the host
 * sends PROC_EXEC with its new comm and command line; the master lists it
 * by that name and passes it on to the front end's agent, whose ghost of
 * it takes that name (BPROC_IOC_GHOST_NAME), so that ps, pgrep and pkill
 * there see the program that runs.
 *
 * Streams that end: when nothing on the host holds a stream any more (its
 * processes closed or redirected it, or ended), the host sends IO_EOF for
 * it, under its owner's pid; the front end's agent then has every ghost
 * that holds it (the owner's, and those forked from it, until the streams
 * pass to another process because the owner moved on) close it
 * (BPROC_IOC_GHOST_CLOSE) and closes its own way to it, so that a reader
 * there sees the end as it would with no move (`x=$(bpsh 1 sh -c 'daemon
 * >/dev/null &')` returns at once).
 *
 * A born process moves like any other (MOVE_ORDER to the node where it
 * runs). The node where it was born keeps the engine's ghost of it there
 * (a proxy, BPROC_IOC_GHOST) for its parent: the master sends that node
 * its EXIT too (the proxy ends alike) and takes SIGNALs from it (what the
 * proxy gets), and from that node comes its PROC_REAPED. As the move from
 * there ends, the master sends the front end STREAM_OWNER with pid and
 * from both the process's: it has streams of its own now, and its ghost
 * leaves the set it shared. Back on the front end, it is the child of its
 * parent's ghost: the front end's agent sends its EXIT to the master. Back
 * on the node where it was born (an ordinary move there: the destination
 * finds its proxy), the proxy restores it as a ghost on the front end
 * does, with streams made as for any process that arrives: it is its
 * parent's child there again, hosted there with no proxy (its streams stay
 * its own), until it leaves again.
 *
 * Ends: EXIT when the process ends (its status), PROC_REAPED when it is
 * reaped where it runs. A ghost whose parent on the front end is a ghost
 * too ends at PROC_REAPED, when its real parent has waited for it, and is
 * then reaped by its parent ghost; any other ends at EXIT, for its parent
 * to wait for. An EXIT with BPROC_EXIT_LOST (its node went down, say) is
 * final: no reaping is reported.
 */
#define BPROC_PID_FRONT_MAX (1u << 21)
#define BPROC_PID_MAX (1u << 22)

struct bproc_msg_pid_range {
	__le32 lo, hi; /* the node's new pids are in [lo, hi) */
};

struct bproc_msg_proc_fork {
	__le32 pid; /* the new process */
	__le32 ppid; /* its parent, a cluster process on the same node */
	__le32 uid; /* real uid */
	__le32 pad; /* must be 0 */
	char comm[16]; /* NUL-terminated */
};

struct bproc_msg_proc_ghost {
	__le32 pid;
	__le32 error; /* 0: its ghost is made; else a positive errno */
};

struct bproc_msg_proc_reaped {
	__le32 pid;
	__le32 pad; /* must be 0 */
};

/* Followed by its command line: each argument NUL-terminated. */
#define BPROC_ARGS_MAX 4096

struct bproc_msg_proc_exec {
	__le32 pid;
	__le32 pad; /* must be 0 */
	char comm[16]; /* NUL-terminated */
	/* then at most BPROC_ARGS_MAX bytes: its command line */
};

struct bproc_msg_stream_owner {
	__le32 pid; /* who has the streams now */
	__le32 from; /* whose they were */
};

/*
 * PROC_PGRP: process pid is in process group pgid now, where it runs (it
 * or its parent called setpgid); PROC_SESSION: it made a session of its
 * own (setsid: pgid is then its pid). From its host, within a heartbeat
 * (the host looks at every report); the master passes it on to the front
 * end, whose ghost of it does the same there (protocol 6).
 */
struct bproc_msg_proc_pgrp {
	__le32 pid;
	__le32 pgid; /* a cluster pid; PROC_SESSION: pid itself */
};

/*
 * The parent a moved process sees on its node. A process that moves to a
 * node keeps its parent there: IMAGE_BEGIN names it (ppid, the source's
 * view: on the front end its real parent, on a node the parent its host
 * knows), and the destination has the process restored as the child of a
 * stand-in that holds the parent's pid in the node's namespace (one per
 * parent and node, while it has children there), so that getppid() gives
 * the parent's pid; a parent of 1 is the namespace's init. When a
 * process's parent changes on the front end (its ghost there is
 * reparented: the parent ended), the master tells its host (PROC_PARENT,
 * checked at each of the host's reports, protocol 7): a stand-in none of
 * whose children has it as their parent any more ends, so that they are
 * the namespace init's children and getppid() gives 1.
 */
struct bproc_msg_proc_parent {
	__le32 pid; /* a process hosted by the receiver */
	__le32 ppid; /* its parent on the front end now (1: it was gone) */
};

/*
 * PROC_THREAD: process pid made thread tid where it runs; PROC_THREAD_END:
 * its thread tid ended alone there (not with the process). From its host,
 * as the engine tells it; the master passes it on to the front end, whose
 * ghost of the process makes or ends a ghost thread of that tid, so that
 * the front end has the process's threads while it is away (protocol 7).
 */
struct bproc_msg_proc_thread {
	__le32 pid;
	__le32 tid; /* a cluster pid, not pid */
};

/* bproc_msg_exit.flags */
#define BPROC_EXIT_LOST (1u << 0) /* ended from outside: no PROC_REAPED */

/* How long a source keeps an idle PEER connection; a destination's wait. */
#define BPROC_PEER_IDLE_MS 30000
#define BPROC_PEER_LINGER_MS 300000

/* Unacknowledged IO bytes a reader may have in flight per fd. */
#define BPROC_IO_WINDOW (256u << 10)
/* Streams are numbered below this, and a process has at most this many. */
#define BPROC_STREAMS_MAX 1024

/* What a stream is where the process runs (bproc_msg_stream.kind). */
enum bproc_stream_kind {
	BPROC_STREAM_PIPE = 0, /* a pipe to the agent */
	BPROC_STREAM_NULL = 1, /* /dev/null: nothing to forward */
	BPROC_STREAM_SOCKET = 2, /* a SOCK_STREAM unix socket pair */
	BPROC_STREAM_DGRAM = 3, /* SOCK_DGRAM: a datagram is one IO_DATA */
	BPROC_STREAM_SEQPACKET = 4, /* SOCK_SEQPACKET, likewise */
};
#define BPROC_STREAM_KIND_MAX BPROC_STREAM_SEQPACKET

/*
 * How a moving process's executable, libraries and other file-backed
 * private mappings go (bproc_msg_move_order.send): by path (the
 * destination maps its own file of that name) or whole (their contents in
 * the image, BPROC_DUMP_LIBS, _EXEC and _OTHER).
 *
 * With PATH and AUTO, the source first asks the destination, on the
 * connection the image will take, which of the files it has identical:
 * FILES_QUERY (stream: the number of the transfer to come) lists every
 * file the process maps (its size, mtime and ELF build id, if it has one),
 * FILES_ANSWER (the same stream) gives one verdict per file, in order.
 * PATH refuses the move when the destination lacks a file (ENOENT, the
 * reason names it); AUTO sends whole each category (the executable, the
 * libraries, the other files) one of whose files is missing or differs,
 * and refuses only for a shared mapping it lacks (those never go whole).
 * Files deleted on the source go whole whatever is asked (the engine has
 * no name to give), and are not asked about.
 */
enum bproc_send {
	BPROC_SEND_FLAGS = 0, /* dump_flags alone, nothing asked */
	BPROC_SEND_PATH = 1, /* by path; a file the destination lacks refuses */
	BPROC_SEND_WHOLE = 2, /* everything whole: dump_flags | DUMP_ALL */
	BPROC_SEND_AUTO = 3, /* by path what is identical there, else whole */
};
#define BPROC_SEND_MAX BPROC_SEND_AUTO

/* What a file is to the process (bproc_msg_file.kind). */
enum bproc_file_kind {
	BPROC_FILE_EXEC = 0, /* its executable: BPROC_DUMP_EXEC */
	BPROC_FILE_LIB = 1, /* mapped executable: BPROC_DUMP_LIBS */
	BPROC_FILE_OTHER = 2, /* any other private mapping: BPROC_DUMP_OTHER */
	BPROC_FILE_SHARED = 3, /* a shared mapping: always by path */
};
#define BPROC_FILE_KIND_MAX BPROC_FILE_SHARED

/* The destination's verdict on one file (FILES_ANSWER). */
enum bproc_file_verdict {
	BPROC_FILE_SAME = 0, /* same size, mtime and build id */
	BPROC_FILE_MISSING = 1, /* no regular file of that name */
	BPROC_FILE_DIFFERS = 2, /* there, but not the same */
};
#define BPROC_FILE_VERDICT_MAX BPROC_FILE_DIFFERS

#define BPROC_FILES_MAX 1024 /* files one query lists */
#define BPROC_FILE_PATH_MAX 4096 /* a path's bytes with its NUL */
#define BPROC_BUILD_ID_MAX 32

/* Followed by nr of these, each followed by its path (path_len bytes). */
struct bproc_msg_files_query {
	__le32 nr; /* at most BPROC_FILES_MAX */
	__le32 pad; /* must be 0 */
};

struct bproc_msg_file {
	__le64 size;
	__le64 mtime_ns; /* since the epoch */
	__u8 kind; /* enum bproc_file_kind */
	__u8 build_id_len; /* 0: none; at most BPROC_BUILD_ID_MAX */
	__le16 path_len; /* with the NUL, at most BPROC_FILE_PATH_MAX */
	__le32 pad; /* must be 0 */
	__u8 build_id[BPROC_BUILD_ID_MAX]; /* zero past build_id_len */
	/* then the absolute path, NUL-terminated */
};

/* Followed by nr verdicts (enum bproc_file_verdict), one byte each. */
struct bproc_msg_files_answer {
	__le32 nr; /* the query's */
	__le32 pad; /* must be 0 */
};

/* bproc_msg_move_order.flags */
#define BPROC_MOVE_SELF (1u << 0) /* the writer is the process: arm, answer */
/*
 * Fast start (protocol 8; the front end only, and only a self-move): KEEP
 * has the source keep the process's image once it has moved (in memory,
 * BPROC_KEPT_IMAGE_MS, at most BPROC_KEPT_IMAGE_MAX bytes), so that
 * processes forked with it can be started from it. An order with copy_of
 * moves the process (a self-move: it asked to be a copy) by sending that
 * kept image under its pid instead of dumping its own, which is parked as
 * a dump would be, its memory never read (BPROC_DUMP_NOIMAGE). The source
 * does so only when the two are alike where it matters: the same parent,
 * credentials, working directory, root and program, one thread each, the
 * same fd numbers and streams at the same fds (where it runs, a copy's
 * streams are those its own ghost holds, as for any move); and when the
 * destination needs no file whole that the kept image lacks. Otherwise,
 * or once the image is no longer kept, it moves the process as any other,
 * its own image dumped: copy_of is a way to start fast, never a reason to
 * fail. A copy whose image is not kept yet waits for it: until the image
 * is whole when that process's KEEP move is under way (the image is kept
 * as soon as it is, whatever becomes of that move), and up to 0.3 s for
 * such a move to be ordered at all (the requests of a process and its
 * copies race to the master). MOVE_RESULT's reason says "a copy of pid N"
 * when the kept image was sent.
 */
#define BPROC_MOVE_KEEP (1u << 1)
#define BPROC_KEPT_IMAGE_MS 30000
#define BPROC_KEPT_IMAGE_MAX (256u << 20)

/*
 * Fast start down a tree of nodes (protocol 9). A kept image is named by
 * the move that took it and the pid it was taken from. The front end's
 * agent has the destination of a KEEP move, and of each copy, keep the
 * image's bytes too (IMAGE_KEEP, in the transfer before its first
 * IMAGE_DATA; bytes is the image's length, 0 if not known yet): for
 * BPROC_KEPT_IMAGE_MS once all of them have come, if they are
 * BPROC_TREE_MIN or more, at most BPROC_KEPT_IMAGE_MAX bytes in all (the
 * oldest go first). Such a node is a *holder* once it has
 * restored the process. A copy's image of BPROC_TREE_MIN bytes or more
 * then goes from a holder when one is free: the source sends IMAGE_FETCH
 * (node and addr: the holder's) in place of the IMAGE_DATA frames; the
 * destination connects to the holder (role PEER), sends it the same
 * IMAGE_FETCH as the first frame of transfer 1, and is sent the image as
 * IMAGE_DATA and IMAGE_END (whose error, if not 0, says the holder does
 * not have it), which it takes as if they came from the source. It then
 * tells the source how many bytes it has (IMAGE_FETCHED: bytes; error and
 * reason if that is not all of them): the source sends the rest itself,
 * then IMAGE_END as always. Each holder, and the front end, sends at most
 * the config's fanout images at once (BPROC_TREE_FANOUT by default), so
 * that the holders double each round and the front end sends about that
 * many however many nodes start; a fanout of 0: no tree, no IMAGE_KEEP.
 */
#define BPROC_TREE_MIN (1u << 20)
#define BPROC_TREE_FANOUT 1

struct bproc_msg_image_ref {
	__le64 move_id; /* the move that took the kept image */
	__le32 pid; /* the process it was taken from */
	__le32 pad; /* must be 0 */
	__le64 bytes; /* its length; IMAGE_KEEP: 0 if not known yet */
	char node[BPROC_NODE_NAME_MAX]; /* IMAGE_FETCH: the holder; else "" */
	char addr[48]; /* IMAGE_FETCH: its listener; else "" */
};

struct bproc_msg_move_order {
	__le64 move_id; /* the master's number for this move */
	__le32 pid; /* the process, by its front-end pid */
	__le32 flags; /* BPROC_MOVE_* */
	__le32 dump_flags; /* BPROC_DUMP_LIBS | _EXEC | _OTHER (bproc.h) */
	__le32 send; /* enum bproc_send: how its files go */
	char dest[BPROC_NODE_NAME_MAX]; /* "master" or the node number */
	char dest_addr[48]; /* "IPv4:port" or "[IPv6]:port" of its agent */
	__le32 copy_of; /* 0, or the pid whose kept image it may take */
	__le32 pad; /* must be 0 */
};

struct bproc_msg_move_armed {
	__le64 move_id;
};

#define BPROC_REASON_BYTES 128

struct bproc_msg_move_result {
	__le64 move_id;
	__le32 pid;
	__le32 error; /* 0, or a positive errno: ESRCH, EBUSY, EOPNOTSUPP, EIO,
		       * ECONNRESET, ENOMEM... */
	__le64 bytes; /* image bytes sent */
	__le64 usec; /* from the order to the outcome, at the source */
	char reason[BPROC_REASON_BYTES]; /* why it failed, NUL-terminated */
};

/* One process a node hosts, every heartbeat (the front end sends none). */
struct bproc_msg_proc_report {
	__le32 pid; /* front-end pid */
	__le32 uid;
	__le64 rss_kb;
	__le64 utime_ms;
	__le64 stime_ms;
	char state; /* the /proc one-letter state */
	char pad[7]; /* must be 0 */
	char comm[16]; /* NUL-terminated */
};

struct bproc_msg_image_begin {
	__le64 move_id;
	__le32 pid; /* front-end pid */
	__le32 flags; /* BPROC_MOVE_*, as ordered */
	char origin[BPROC_NODE_NAME_MAX]; /* the source node */
	__le32 ppid; /* its parent (see PROC_PARENT); 0: not known */
	__le32 pad; /* must be 0 */
};

struct bproc_msg_image_end {
	__le64 bytes; /* image bytes sent in IMAGE_DATA */
	__le32 error; /* 0: complete; else the source gives up (errno) */
	__le32 pad; /* must be 0 */
	char reason[BPROC_REASON_BYTES];
};

/* Followed by nr of these, by increasing fd. */
struct bproc_msg_stream {
	__le32 fd; /* the process's descriptor */
	__le16 stream; /* the stream it is: the ghost's fd */
	__u8 kind; /* enum bproc_stream_kind, the same for all its fds */
	__u8 pad; /* must be 0 */
};

struct bproc_msg_image_streams {
	__le32 nr; /* at most BPROC_STREAMS_MAX */
	__le32 pad; /* must be 0 */
};

struct bproc_msg_image_result {
	__le32 error; /* 0: the process runs here; else a positive errno */
	__le32 pad; /* must be 0 */
	char reason[BPROC_REASON_BYTES];
};

struct bproc_msg_signal {
	__le32 pid; /* front-end pid */
	__le32 signo; /* 1..64 */
	__le32 tid; /* the thread it was sent to alone (tgkill), 0: the
		     * process; version 7 */
};

/* bproc_msg_io.flags */
#define BPROC_IO_REQUEUE \
	(1u << 0) /* fd 0 bytes the old host never delivered: put them first */
#define BPROC_IO_ACKED \
	(1u << 1) /* requeued bytes the old host acknowledged: do not again */

struct bproc_msg_io {
	__le32 pid; /* front-end pid */
	__le16 fd; /* the stream: 0 stdin, 1 stdout, 2 stderr, or another */
	__le16 flags; /* BPROC_IO_* */
	/* IO_DATA: the bytes follow, at least 1 */
};

struct bproc_msg_io_mark {
	__le32 pid;
	__le32 stdin_unread; /* bytes its stdin held that it never read */
	__le64 move_id; /* the move whose old copy has said all */
};

struct bproc_msg_io_ack {
	__le32 pid; /* front-end pid */
	__le16 fd; /* the stream */
	__le16 pad; /* must be 0 */
	__le32 bytes; /* consumed since the last IO_ACK of this fd */
	__le32 pad2; /* must be 0 */
};

struct bproc_msg_exit {
	__le32 pid; /* front-end pid */
	__le32 status; /* as wait(2): exit code << 8, or the signal number */
	__le32 stdin_unread; /* bytes its stdin held that it never read */
	__le32 flags; /* BPROC_EXIT_* */
	char reason
		[48]; /* for events, e.g. "node3 down"; "" when it just ended */
};

#ifdef __cplusplus
#define BPROC_STATIC_ASSERT static_assert
#else
#define BPROC_STATIC_ASSERT _Static_assert
#endif

BPROC_STATIC_ASSERT(sizeof(struct bproc_frame_hdr) == 16, "frame header");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_hello) == 64, "hello");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_auth) == 32, "auth");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_bye) == 64, "bye");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_ping) == 8, "ping");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_status) == 232, "status");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_move_order) == 96, "move_order");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_move_result) == 160, "result");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_proc_report) == 56, "proc");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_image_begin) == 40, "begin");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_image_end) == 144, "end");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_image_result) == 136, "result");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_stream) == 8, "stream");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_image_streams) == 8, "streams");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_image_ref) == 88, "image ref");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_signal) == 12, "signal");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_io) == 8, "io");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_io_mark) == 16, "mark");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_io_ack) == 16, "ack");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_exit) == 64, "exit");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_pid_range) == 8, "pid range");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_proc_fork) == 32, "proc fork");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_proc_ghost) == 8, "proc ghost");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_proc_reaped) == 8, "reaped");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_stream_owner) == 8, "owner");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_proc_pgrp) == 8, "pgrp");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_proc_parent) == 8, "parent");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_proc_thread) == 8, "thread");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_files_query) == 8, "query");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_file) == 56, "file");
BPROC_STATIC_ASSERT(sizeof(struct bproc_msg_files_answer) == 8, "answer");

#endif /* _BPROC_PROTO_H */
