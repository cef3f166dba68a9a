// Package browsertest drives the meeting page (GET /incidents/{id}) in a
// real headless Chromium: Debian's chromium package, at /usr/bin/chromium
// or GROUNDWORK_CHROMIUM. Its tests fail, never skip, on a machine without
// it, naming the package to install. They write a screenshot and a PDF of
// the page to GROUNDWORK_ARTIFACTS (default: a groundwork-artifacts folder
// in the system's temporary directory), and, run with
// -update-screenshot, the screenshot the README shows.
package browsertest
