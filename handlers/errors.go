package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"omtx/api"
	"omtx/chem/ligands"
	"omtx/jobs"
)

// Error codes of the HTTP layer, besides the jobs package's.
const (
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeRateLimited      = "rate_limited"
	codeTooLarge         = "too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
)

// statusOf maps error codes to HTTP statuses: the only place this happens.
var statusOf = map[string]int{
	jobs.ErrInvalid:      http.StatusBadRequest,
	jobs.ErrNotFound:     http.StatusNotFound,
	jobs.ErrConflict:     http.StatusConflict,
	jobs.ErrLeaseLost:    http.StatusConflict,
	jobs.ErrCancelled:    http.StatusConflict,
	codeUnauthorized:     http.StatusUnauthorized,
	codeForbidden:        http.StatusForbidden,
	codeRateLimited:      http.StatusTooManyRequests,
	codeTooLarge:         http.StatusRequestEntityTooLarge,
	codeUnsupportedMedia: http.StatusUnsupportedMediaType,
	codeMethodNotAllowed: http.StatusMethodNotAllowed,
}

// codeOfStatus names the statuses echo itself answers with (no route,
// wrong method) in the API's codes.
var codeOfStatus = map[int]string{
	http.StatusBadRequest:            jobs.ErrInvalid,
	http.StatusNotFound:              jobs.ErrNotFound,
	http.StatusMethodNotAllowed:      codeMethodNotAllowed,
	http.StatusRequestEntityTooLarge: codeTooLarge,
	http.StatusUnsupportedMediaType:  codeUnsupportedMedia,
	http.StatusUnauthorized:          codeUnauthorized,
	http.StatusForbidden:             codeForbidden,
	http.StatusTooManyRequests:       codeRateLimited,
}

// errorOf maps an error to its status and the API's error body.
func errorOf(err error) (int, api.ErrorDetail) {
	var (
		le *ligands.Error
		je *jobs.Error
		me *http.MaxBytesError
		he *echo.HTTPError
	)
	switch {
	case errors.As(err, &le):
		d := api.ErrorDetail{Code: jobs.ErrInvalid, Message: le.Error(), Field: "ligands"}
		for _, p := range le.Problems {
			d.Problems = append(d.Problems, api.Problem{Row: p.Row, Line: p.Line, Field: p.Field, Name: p.Name, Message: p.Message})
		}
		return http.StatusBadRequest, d
	case errors.As(err, &je) && statusOf[je.Code] != 0:
		return statusOf[je.Code], api.ErrorDetail{Code: je.Code, Message: je.Message, Field: je.Field}
	case errors.As(err, &me):
		return http.StatusRequestEntityTooLarge, api.ErrorDetail{Code: codeTooLarge,
			Message: fmt.Sprintf("the request body is larger than %d bytes", me.Limit)}
	case errors.As(err, &he) && he.Code >= 400 && he.Code < 500:
		code := codeOfStatus[he.Code]
		if code == "" {
			code = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		}
		d := api.ErrorDetail{Code: code, Message: http.StatusText(he.Code)}
		switch {
		case he.Code == http.StatusNotFound:
			d.Message = "no such route"
		case he.Code == http.StatusMethodNotAllowed:
			d.Message = "this route does not take that method"
		default:
			if m, ok := he.Message.(string); ok {
				d.Message = m
			}
		}
		return he.Code, d
	}
	return http.StatusInternalServerError, api.ErrorDetail{Code: jobs.ErrInternal, Message: "internal error"}
}

// errorHandler renders every error as the API's JSON error, with
// WWW-Authenticate on 401. Internal errors are logged once, here, with
// the request's id, and shown to the caller without detail.
func (s *server) errorHandler(err error, c echo.Context) {
	status, detail := errorOf(err)
	if status >= 500 {
		log := logOf(c)
		if ctxErr := c.Request().Context().Err(); ctxErr != nil && errors.Is(err, context.Canceled) {
			log.Info("request abandoned by the client", "err", err)
		} else {
			route, _ := c.Get(keyRoute).(string)
			log.Error("request failed", "method", c.Request().Method, "route", route, "err", err)
		}
	}
	if c.Response().Committed {
		return // a download failed on the way; the connection tells the client
	}
	if status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="omtx"`)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	c.JSON(status, api.ErrorBody{Error: detail})
}
