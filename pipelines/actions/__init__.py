"""The action register of a site (issue #17): the actions decided in committee, who
leads them, their due dates and status, and whether things got better after them
(:mod:`pipelines.actions.effect`)."""
