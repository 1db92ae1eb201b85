"""The console's job pages (training and scoring): the recent jobs, and one job with live progress.

With a token set, job details need it in the API (a job's overrides and error
describe the server's data), so these pages then carry no job details: their
script reads them with the tab's token.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tabserve.service.console.pages import guarded, token_set
from tabserve.service.console.render import page
from tabserve.service.deps import JobId, State

router = APIRouter(include_in_schema=False)
JOBS_SHOWN = 50


@router.get("/ui/jobs", response_class=HTMLResponse)
@guarded
def jobs_page(state: State) -> HTMLResponse:
    """Recent jobs with status, progress, duration, version or error.

    With a token set the API's GET /jobs needs it, so the page carries no job and its script reads
    them with the tab's token (or says the token is needed).
    """
    locked = token_set(state)
    jobs = [] if locked else state.registry.metadata.recent_jobs(JOBS_SHOWN, list(state.slots))
    return page(
        "jobs.html",
        active="jobs",
        title="Jobs",
        auth=locked,
        jobs=jobs,
        limit=JOBS_SHOWN,
        locked=locked,
    )


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse)
@guarded
def job_page(job_id: JobId, state: State) -> HTMLResponse:
    """One job, with live progress while it runs; when it ends, the version and whether it was promoted.

    With a token set the page shows only the job's id: GET /jobs/{id} needs the token (a job's
    overrides and error describe the server's data), so the script reads it with the tab's token.
    """
    metadata = state.registry.metadata
    job = metadata.get_job(job_id)  # an unknown id is a 404 page either way; ids reveal nothing
    if token_set(state):
        title = f"Job {job_id[:8]}"
        return page("job.html", active="jobs", title=title, auth=True, job_id=job_id, job=None, locked=True)
    promoted = None
    if job.status == "succeeded" and job.kind == "train" and job.version is not None:
        promoted = metadata.promoted_since(job.model, job.version, job.started_at or job.created_at)
    return page(
        "job.html",
        active="jobs",
        title=f"{'Scoring' if job.kind == 'score' else 'Training'} job {job.id[:8]}",
        auth=False,
        job_id=job.id,
        job=job,
        promoted=promoted,
        locked=False,
    )
