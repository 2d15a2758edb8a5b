"""Run the official SDK's own test suite with nose 1.3.7 on Python 3.10+ (in the SDK's virtualenv).

nose 1.3.7 predates Python 3.10: it reads ``collections.Callable`` and ``inspect.getargspec``, both gone.
They are put back (as the aliases they always were) before nose is imported; nothing of the SDK is edited.

Usage: ``run_nose.py SUITE_DIR XUNIT_FILE [EXCLUDED ...]`` where SUITE_DIR is the unpacked sdist and
each EXCLUDED is ``module:test`` (``test_file:test_thumbnail``), a test left out of the run.
"""
import collections
import collections.abc
import inspect
import os
import sys


def _restore_removed_aliases():
    collections.Callable = collections.abc.Callable  # removed in Python 3.10
    if not hasattr(inspect, "getargspec"):  # removed in Python 3.11
        inspect.getargspec = lambda function: inspect.getfullargspec(function)[:4]


def _exclusion_plugin(excluded):
    from nose.plugins import Plugin

    class Exclude(Plugin):
        """Leaves out the tests named ``module:function`` or ``module:Class.method``."""

        name = "exclude-listed"
        enabled = True

        def options(self, parser, env):  # always on: nothing to configure
            pass

        def configure(self, options, conf):
            self.conf = conf

        def wantFunction(self, function):
            return self._want(function.__module__, function.__name__)

        def wantMethod(self, method):
            owner = getattr(method, "__self__", None)
            owner_name = type(owner).__name__ if owner is not None else method.__qualname__.split(".")[0]
            return self._want(method.__module__, owner_name + "." + method.__name__)

        def _want(self, module, name):
            if module.rsplit(".", 1)[-1] + ":" + name in excluded:
                return False
            return None  # let nose decide as usual

    return Exclude()


def main():
    suite_dir, xunit_file, excluded = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    _restore_removed_aliases()
    import nose

    os.chdir(suite_dir)
    sys.path.insert(0, suite_dir)
    argv = ["nosetests", "tests", "--with-xunit", "--xunit-file", xunit_file, "-v"]
    nose.main(argv=argv, addplugins=[_exclusion_plugin(excluded)])


if __name__ == "__main__":
    main()
