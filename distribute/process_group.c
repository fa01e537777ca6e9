/*
 * The process group: who this process is in the job, MPI's life cycle,
 * the collective deadline, and ending the job.
 *
 * MPI is initialised only when a launcher started the process, so a plain
 * `./train` never touches MPI (no PMIx connection attempt, no singleton
 * start-up of a few hundred milliseconds, nothing for a sanitizer to see).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distribute/internal.h"
#include "runtime/internal.h"

#define CT__DEFAULT_TIMEOUT_S 300.0

static pthread_mutex_t world_lock = PTHREAD_MUTEX_INITIALIZER;
static ct_process_group world;
static bool world_ready;    /* world is filled in                       */
static bool world_down;     /* ct_dist_shutdown ran                     */
static bool we_own_mpi;     /* ctrain called MPI_Init_thread            */

/* ---- errors and dtypes ------------------------------------------------------ */

ct_status ct__mpi_error(int rc, const char *call, const char *file, int line) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "unknown MPI error");
    return ct__error(CT_ERR_INTERNAL, "%s failed at %s:%d: %s (MPI error %d)", call, file, line,
                     msg, rc);
}

MPI_Datatype ct__mpi_dtype(ct_dtype dt) {
    switch (dt) {
    case CT_FLOAT32: return MPI_FLOAT;
    case CT_FLOAT64: return MPI_DOUBLE;
    case CT_INT32: return MPI_INT32_T;
    case CT_INT64: return MPI_INT64_T;
    case CT_FLOAT16:
    case CT_BFLOAT16: return MPI_UINT16_T;
    case CT_UINT8:
    case CT_BOOL: return MPI_UINT8_T;
    default: return MPI_DATATYPE_NULL;
    }
}

/* ---- the deadline ------------------------------------------------------------- */

static double timeout_set; /* ct_dist_set_timeout's value; 0: the default */
static double timeout_env; /* CT_COLLECTIVE_TIMEOUT; 0: unset            */
static char timeout_env_error[160];
static pthread_once_t timeout_env_once = PTHREAD_ONCE_INIT;

/* Reads CT_COLLECTIVE_TIMEOUT once. A bad value is kept as an error that
 * ct_dist_world reports, rather than silently falling back to a default
 * the operator did not ask for. */
static void read_timeout_env(void) {
    const char *v = getenv("CT_COLLECTIVE_TIMEOUT");
    if (!v || !*v) return;
    char *end;
    double s = strtod(v, &end);
    if (*end != '\0' || !(s > 0)) {
        snprintf(timeout_env_error, sizeof timeout_env_error,
                 "CT_COLLECTIVE_TIMEOUT='%.60s' is not a number of seconds > 0", v);
        return;
    }
    timeout_env = s;
}

ct_status ct_dist_set_timeout(double seconds) {
    if (isnan(seconds))
        return ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dist_set_timeout: seconds is NaN");
    pthread_mutex_lock(&world_lock);
    timeout_set = seconds > 0 ? seconds : 0;
    pthread_mutex_unlock(&world_lock);
    return CT_OK;
}

double ct_dist_timeout(void) {
    pthread_once(&timeout_env_once, read_timeout_env);
    if (timeout_env > 0) return timeout_env;
    pthread_mutex_lock(&world_lock);
    double s = timeout_set > 0 ? timeout_set : CT__DEFAULT_TIMEOUT_S;
    pthread_mutex_unlock(&world_lock);
    return s;
}

/* ---- start-up and shutdown ------------------------------------------------- */

/* The variables MPI launchers set in every process they start: Open MPI's
 * mpirun, PMI-1/2 (MPICH's hydra, srun --mpi=pmi2), PMIx (srun, prrte),
 * and MPICH's local-rank count. */
static bool started_by_launcher(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                 "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

static const char *thread_level_name(int level) {
    switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "none";
    }
}

static void shutdown_at_exit(void) { ct_dist_shutdown(); }

/* Fills `world` from MPI (initialising it unless the program did). */
static ct_status mpi_world(void) {
    int initialized = 0, finalized = 0;
    CT__MPI_CHECK(MPI_Initialized(&initialized));
    CT__MPI_CHECK(MPI_Finalized(&finalized));
    if (finalized)
        return ct__error(CT_ERR_INTERNAL, "ct_dist_world: MPI was already finalised by the "
                                          "program; it cannot be initialised again");
    if (initialized) {
        CT__MPI_CHECK(MPI_Query_thread(&world.thread_level));
    } else {
        /* Across nodes, Open MPI 4.1 makes the collectives' arrival board
         * (an MPI window) with osc/rdma, which fails over TCP
         * (MPI_ERR_WIN, open-mpi/ompi#11466); osc/ucx makes it. Open
         * MPI's launcher says whether the job spans nodes; a choice the
         * user made stays. */
        const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"), *ws = getenv("OMPI_COMM_WORLD_SIZE");
        if (ls && ws && atoi(ls) != atoi(ws) && !getenv("OMPI_MCA_osc"))
            setenv("OMPI_MCA_osc", "^rdma", 0);
        /* MPI_THREAD_MULTIPLE lets a backward pass start all-reduces on
         * one thread while another waits; below it ctrain's calls are
         * serialised by a lock, which is all SERIALIZED asks. */
        CT__MPI_CHECK(MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &world.thread_level));
        we_own_mpi = true;
        atexit(shutdown_at_exit);
    }
    world.mpi = true;
    CT__MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &world.comm));
    /* Errors come back as codes, which become ctrain errors, instead of
     * MPI's default of aborting the job from inside the call. */
    CT__MPI_CHECK(MPI_Comm_set_errhandler(world.comm, MPI_ERRORS_RETURN));
    CT__MPI_CHECK(MPI_Comm_rank(world.comm, &world.rank));
    CT__MPI_CHECK(MPI_Comm_size(world.comm, &world.size));
    MPI_Comm node;
    CT__MPI_CHECK(MPI_Comm_split_type(world.comm, MPI_COMM_TYPE_SHARED, world.rank,
                                      MPI_INFO_NULL, &node));
    int lr = 0, ls = 1;
    int rc1 = MPI_Comm_rank(node, &lr), rc2 = MPI_Comm_size(node, &ls);
    MPI_Comm_free(&node);
    CT__MPI_CHECK(rc1);
    CT__MPI_CHECK(rc2);
    world.local_rank = lr;
    world.local_size = ls;
    if (world.thread_level < MPI_THREAD_MULTIPLE && world.rank == 0)
        fprintf(stderr,
                "ctrain: MPI provides %s, not MPI_THREAD_MULTIPLE: ctrain serialises its MPI "
                "calls with a lock, and collectives must not be started from several threads "
                "while the program makes MPI calls of its own\n",
                thread_level_name(world.thread_level));
    return CT_OK;
}

ct_process_group *ct_dist_world(void) {
    pthread_once(&timeout_env_once, read_timeout_env);
    if (timeout_env_error[0]) {
        ct__error(CT_ERR_INVALID_ARGUMENT, "ct_dist_world: %s", timeout_env_error);
        return NULL;
    }
    pthread_mutex_lock(&world_lock);
    ct_process_group *pg = NULL;
    if (world_down) {
        ct__error(CT_ERR_INTERNAL, "ct_dist_world: the process group was shut down "
                                   "(ct_dist_shutdown); MPI cannot be initialised twice");
        goto out;
    }
    if (!world_ready) {
        world = (ct_process_group){.rank = 0, .size = 1, .local_rank = 0, .local_size = 1,
                                   .mpi = false, .thread_level = -1, .comm = MPI_COMM_NULL};
        /* Without a launcher no MPI call is made at all, not even
         * MPI_Initialized: a program that started MPI as a singleton is a
         * group of one either way. */
        if (started_by_launcher()) {
            ct_status s = mpi_world();
            if (s != CT_OK) {
                char msg[768];
                snprintf(msg, sizeof msg, "%s", ct_last_error());
                ct__error(s, "ct_dist_world: could not start MPI: %s", msg);
                goto out;
            }
        }
        world_ready = true;
    }
    pg = &world;
out:
    pthread_mutex_unlock(&world_lock);
    return pg;
}

void ct_dist_shutdown(void) {
    pthread_mutex_lock(&world_lock);
    if (world_ready && world.mpi) {
        int finalized = 1;
        MPI_Finalized(&finalized);
        if (!finalized) {
            MPI_Comm_free(&world.comm);
            if (we_own_mpi) MPI_Finalize();
        }
    }
    /* Without MPI there is nothing that cannot start again: a later
     * ct_dist_world() makes the single-process group afresh. */
    if ((world_ready && world.mpi) || we_own_mpi) world_down = true;
    world_ready = false;
    pthread_mutex_unlock(&world_lock);
}

_Noreturn void ct_dist_abort(int code) {
    if (code == 0) code = 1;
    /* No lock: abort may be called from any state, even with the world
     * lock held by a thread that is stuck. */
    int rank = world_ready ? world.rank : 0, size = world_ready ? world.size : 1;
    const char *why = ct_last_error();
    fflush(stdout);
    fprintf(stderr, "ctrain: rank %d of %d: aborting (code %d)%s%s\n", rank, size, code,
            why[0] ? ": " : "", why);
    fflush(stderr);
    int initialized = 0, finalized = 1;
    if (world_ready && world.mpi && MPI_Initialized(&initialized) == MPI_SUCCESS &&
        initialized && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

/* ---- accessors ---------------------------------------------------------------- */

int ct_process_group_rank(const ct_process_group *pg) { return pg ? pg->rank : -1; }
int ct_process_group_size(const ct_process_group *pg) { return pg ? pg->size : -1; }
int ct_process_group_local_rank(const ct_process_group *pg) { return pg ? pg->local_rank : -1; }
int ct_process_group_local_size(const ct_process_group *pg) { return pg ? pg->local_size : -1; }
bool ct_process_group_is_mpi(const ct_process_group *pg) { return pg && pg->mpi; }
const char *ct_process_group_thread_level(const ct_process_group *pg) {
    return pg && pg->mpi ? thread_level_name(pg->thread_level) : "none";
}
