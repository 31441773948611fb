"""The sandbox: what keeps one untrusted notebook away from the machine and from other jobs.

``limits`` holds a job's limits (``Limits``), detects what isolation the machine
allows (``detect``) and runs a process under them (``run``: namespaces, a job
space, kill-all on timeout). ``lockdown`` is the library that turns a process into
a graded kernel's world (an allow-list root, no capabilities, an unprivileged uid,
resource limits); ``launcher`` is the kernelspec's ``argv`` that applies it before
ipykernel starts, or asks a warm zygote (``grader.job.zygote``) for a kernel and
stands in for it. Nothing here knows about nbgrader, notebooks or grades.
"""
