package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"omtx/jobs"
)

// errorBody is the one error shape of the API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// statusOf maps error codes to HTTP statuses: the only place this happens.
var statusOf = map[string]int{
	jobs.ErrInvalid:   http.StatusBadRequest,
	jobs.ErrNotFound:  http.StatusNotFound,
	jobs.ErrConflict:  http.StatusConflict,
	jobs.ErrLeaseLost: http.StatusConflict,
	jobs.ErrCancelled: http.StatusConflict,
}

// errorHandler renders every error as the API's JSON error. Internal
// errors are logged once, here, and shown to the caller without detail.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, body := http.StatusInternalServerError, errorDetail{Code: jobs.ErrInternal, Message: "internal error"}
		var he *echo.HTTPError
		var je *jobs.Error
		switch {
		case errors.As(err, &je) && statusOf[je.Code] != 0:
			status, body = statusOf[je.Code], errorDetail{Code: je.Code, Message: je.Message, Field: je.Field}
		case errors.As(err, &he):
			status = he.Code
			code := strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
			body = errorDetail{Code: code, Message: http.StatusText(he.Code)}
			if m, ok := he.Message.(string); ok {
				body.Message = m
			}
		}
		if status >= 500 && log != nil {
			log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
		}
		if c.Request().Method == http.MethodHead {
			c.NoContent(status)
			return
		}
		c.JSON(status, errorBody{Error: body})
	}
}
