"""nbgrader's exchange, the folder through which lessons go out and submissions come in.

``instructor`` publishes released lessons, collects submissions and returns
feedback pages (``course publish``, ``collect``, ``return-feedback``);
``submit`` is the students' side, nbgrader's submit with a submission folder
that other students cannot write to (``c.ExchangeFactory.submit``).
"""
